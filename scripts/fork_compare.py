"""lanes-validator --dev --fork-url against anvil --fork-url on one loopback
upstream: what a typical forked-chain test asks of the upstream, and how long
a first-touch and a cached read take. Run by scripts/fork-compare.sh.

Usage: python3 fork_compare.py ROOT ANVIL_BIN RUNS TOUCHES
For each of RUNS rounds, each node forks a fresh anvil upstream (built by
tests/clients/fork.py setup) through its own counting proxy
(tests/clients/fork_proxy.py) and runs tests/clients/fork.py check, then
`touch` with TOUCHES fresh accounts. Prints each round and the medians.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT, ANVIL, RUNS, TOUCHES = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ART = f"{ROOT}/contracts/artifacts"
FORK = f"{ROOT}/tests/clients/fork.py"
ENV = dict(os.environ, PYTHONPATH=f"{ROOT}/target/clients/python")


def port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url):
    body = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
    for _ in range(600):
        try:
            req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not start")


def script(*args):
    out = subprocess.run(["python3", FORK, *args], env=ENV, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"fork.py {args[0]} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def proxy(upstream):
    p = subprocess.Popen(["python3", f"{ROOT}/tests/clients/fork_proxy.py", upstream],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p, f"http://127.0.0.1:{p.stdout.readline().split()[1]}"


def counts(url):
    return json.loads(urllib.request.urlopen(f"{url}/counts").read())


def start(kind, via, n, tmp):
    p = port()
    if kind == "lanes":
        cmd = [f"{ROOT}/target/release/lanes-validator", "--dev", "--fork-url", via,
               "--fork-block-number", n, "--data-dir", f"{tmp}/lanes-{p}", "--rpc-addr", f"127.0.0.1:{p}"]
    else:
        cmd = [ANVIL, "--silent", "--port", str(p), "--fork-url", via, "--fork-block-number", n]
    node = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{p}"
    wait(url)
    return node, url


rows = {"lanes": [], "anvil": []}
with tempfile.TemporaryDirectory() as tmp:
    for run in range(RUNS):
        up_port = port()
        upstream = subprocess.Popen([ANVIL, "--silent", "--port", str(up_port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        up = f"http://127.0.0.1:{up_port}"
        wait(up)
        state = f"{tmp}/state-{run}.json"
        script("setup", up, ART, state)
        n = str(json.load(open(state))["forkBlock"])
        for kind in ("lanes", "anvil") if run % 2 == 0 else ("anvil", "lanes"):
            px, via = proxy(up)
            node, url = start(kind, via, n, tmp)
            started = time.perf_counter()
            script("check", up, url, state, ART, via)
            took = time.perf_counter() - started
            c = counts(via)
            timing = json.loads(script("touch", url, state, ART, TOUCHES).strip().splitlines()[-1])
            state_repeats = sum(c["repeated"].get(m, 0) for m in
                                ("eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt"))
            row = {
                "requests": c["requests"], "calls": c["calls"], "stateRepeats": state_repeats,
                "checkSeconds": took,
                "balanceFirstMs": timing["balance"]["firstMs"], "balanceCachedMs": timing["balance"]["cachedMs"],
                "tokenFirstMs": timing["tokenBalance"]["firstMs"], "tokenCachedMs": timing["tokenBalance"]["cachedMs"],
            }
            rows[kind].append(row)
            print(kind, run + 1, json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}),
                  flush=True)
            node.kill()
            node.wait()
            px.kill()
        upstream.kill()
        upstream.wait()

print()
print("median of", RUNS, "runs   requests  calls  state-repeats  check-s  balance first/cached ms  token first/cached ms")
for kind, rs in rows.items():
    m = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
    print(f"{kind:<6} {'':<13} {m['requests']:>8} {m['calls']:>6} {m['stateRepeats']:>14} {m['checkSeconds']:>8.2f}"
          f"  {m['balanceFirstMs']:>10.2f} / {m['balanceCachedMs']:.2f}  {m['tokenFirstMs']:>12.2f} / {m['tokenCachedMs']:.2f}")
