#!/usr/bin/env bash
# Calls at `latest` while blocks are sealed: lanes-validator --dev with
# --block-time 50ms (a block every 50 ms, empty or not) and a sender keeping
# transfers coming, while THREADS clients (default 4, one keep-alive
# connection each) make CALLS calls in all (default 100,000), cycling
# eth_call, eth_estimateGas and eth_createAccessList at `latest`, and
# eth_getBalance and eth_getBlockByNumber at `latest`. Prints the calls made,
# how many failed (by error message), the blocks sealed meanwhile, and the
# calls per second, beside issue 82's goal (no internal error: a call never
# sees half a commit).
#
#   scripts/calls-at-latest.sh      (CALLS=100000 THREADS=4)
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${CALLS:-100000}
threads=${THREADS:-4}
source scripts/lib.sh
need python3
validator=${VALIDATOR:-target/release/lanes-validator}
[ -x "$validator" ] || cargo build --release --bin lanes-validator >&2
port=$(free_port)
"$validator" --dev --block-time 50ms --data-dir "$tmp/data" --rpc-addr "127.0.0.1:$port" \
    > "$tmp/node.log" 2>&1 &
node_pid=$!
wait_for "$port"
python3 - "$port" "$calls" "$threads" <<'PY'
import collections, http.client, json, sys, threading, time
port, calls, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def client():
    conn = http.client.HTTPConnection("127.0.0.1", port)
    def call(method, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        conn.request("POST", "/", body, {"Content-Type": "application/json"})
        return json.loads(conn.getresponse().read())
    return call
first = client()
sender = first("eth_accounts")["result"][0]
start_block = int(first("eth_blockNumber")["result"], 16)
done = threading.Event()
def send():
    call, n = client(), 0
    while not done.is_set():
        call("eth_sendTransaction", {"from": sender, "to": "0x" + "22" * 20, "value": hex(n + 1)})
        n += 1
# Init code answering NUMBER: what block the call ran in.
probe = {"from": sender, "data": "0x4360005260206000f3"}
errors, made = collections.Counter(), [0]
lock = threading.Lock()
def hammer(share):
    call = client()
    shapes = [("eth_call", probe, "latest"), ("eth_estimateGas", probe, "latest"),
              ("eth_createAccessList", probe, "latest"), ("eth_getBalance", sender, "latest"),
              ("eth_getBlockByNumber", "latest", False)]
    for i in range(share):
        method, *params = shapes[i % len(shapes)]
        answer = call(method, *params)
        failed = answer.get("error")
        if not failed and method == "eth_createAccessList":
            failed = answer["result"].get("error")
        if failed:
            with lock:
                errors[f"{method}: {failed}"[:160]] += 1
    with lock:
        made[0] += share
sending = threading.Thread(target=send)
sending.start()
started = time.perf_counter()
workers = [threading.Thread(target=hammer, args=(calls // threads,)) for _ in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
took = time.perf_counter() - started
done.set(); sending.join()
blocks = int(first("eth_blockNumber")["result"], 16) - start_block
print(f"{made[0]} calls at latest in {took:.1f} s ({made[0] / took:,.0f}/s) while {blocks} blocks were sealed (50 ms blocks, transfers sent throughout)")
print(f"failed: {sum(errors.values())}" + "".join(f"\n  {n} x {e}" for e, n in errors.most_common(10)))
print("goal (issue 82): 0 internal errors")
sys.exit(1 if errors else 0)
PY
