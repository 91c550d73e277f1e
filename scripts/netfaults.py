#!/usr/bin/env python3
"""Four validators and a replica, each in a network namespace of its own,
driven with signed transfers through network faults; prints what held.

Run by scripts/netfaults.sh (as root: it makes namespaces). The nodes are a
`lanes-validator testnet --hosts 10.77.0.11,...` laid out over five
namespaces joined by a bridge (10.77.0.1 on the host side); no address is
redirected. This kernel has no netem, so faults are injected in user space:
every peer-to-peer (consensus) link goes through a TCP proxy on the bridge
that delays each chunk (a one-way delay with jitter, in both directions),
models loss as a 200 ms stall of a chunk (what a TCP retransmission costs:
a TCP proxy cannot drop bytes), and cuts links (closes them and refuses new
ones). JSON-RPC (sends, relays, the replica's forwards) is not delayed.

Five senders (dev accounts 1-5, eth-account from target/clients/python) send
transfers round the five nodes at RATE tx/s in all. Per phase it prints
blocks per second, send-to-decided latency (decided: first served by
validator-0), errors, and at the end: acknowledged transactions lost, sends
answered with an error for a transaction then included, heights with two
blocks, and the nodes' heads and state roots.
"""

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "target", "clients", "python"))
from eth_account import Account  # noqa: E402
from eth_utils import to_checksum_address  # noqa: E402

BIN = os.environ.get("LANES_BIN", os.path.join(ROOT, "target", "release", "lanes-validator"))
OUT = os.environ.get("NETFAULTS_DIR", "/tmp/lanes-netfaults")
RATE = float(os.environ.get("RATE", "10"))
PHASE = float(os.environ.get("PHASE_SECONDS", "20"))
CUT = float(os.environ.get("CUT_SECONDS", "30"))
BASE_PORT = 26600
NODES = 5
VALIDATORS = 4
HOSTS = [f"10.77.0.{11 + i}" for i in range(NODES)]
BRIDGE_IP = "10.77.0.1"
PROXY_BASE = 27600
CHAIN_ID = 31337
DEV_KEYS = [  # dev accounts 1-5 of the test mnemonic
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
]


def sh(cmd, check=True):
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True)


def rpc(url, method, params, timeout=5):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as res:
        return json.loads(res.read())


# ---- the network ------------------------------------------------------------

def netns_up():
    netns_down()
    sh("ip link add lnbr0 type bridge && ip addr add 10.77.0.1/24 dev lnbr0 && ip link set lnbr0 up")
    for i in range(NODES):
        ns = f"lanes-n{i}"
        sh(f"ip netns add {ns}")
        sh(f"ip link add lnv{i} type veth peer name eth0 netns {ns}")
        sh(f"ip link set lnv{i} master lnbr0 && ip link set lnv{i} up")
        sh(f"ip -n {ns} addr add {HOSTS[i]}/24 dev eth0 && ip -n {ns} link set eth0 up && ip -n {ns} link set lo up")


def netns_down():
    for i in range(NODES):
        sh(f"ip netns del lanes-n{i}", check=False)
        sh(f"ip link del lnv{i}", check=False)
    sh("ip link del lnbr0", check=False)


class Faults:
    """What the proxy does to the links now."""

    def __init__(self):
        self.delay = 0.0
        self.jitter = 0.0
        self.stall = 0.0
        self.cut = set()  # (from node, to node), both ways listed

    def cut_between(self, group_a, group_b):
        for a in group_a:
            for b in group_b:
                self.cut |= {(a, b), (b, a)}


class Proxy:
    """Peer-to-peer links through the bridge, each chunk delayed by the
    faults' delay, and cut where they say."""

    def __init__(self, faults, targets):
        self.faults = faults
        self.targets = targets  # node -> (host, p2p port)
        self.open = []  # (src, dst, writer, writer)

    async def start(self):
        for dst, (host, port) in self.targets.items():
            await asyncio.start_server(
                lambda r, w, dst=dst: self.link(r, w, dst), BRIDGE_IP, PROXY_BASE + dst)

    def source_of(self, writer):
        ip = writer.get_extra_info("peername")[0]
        return HOSTS.index(ip) if ip in HOSTS else -1

    async def link(self, reader, writer, dst):
        src = self.source_of(writer)
        if (src, dst) in self.faults.cut:
            writer.close()
            return
        host, port = self.targets[dst]
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        entry = (src, dst, writer, up_writer)
        self.open.append(entry)
        await asyncio.gather(self.pipe(reader, up_writer), self.pipe(up_reader, writer),
                             return_exceptions=True)
        for w in (writer, up_writer):
            w.close()
        if entry in self.open:
            self.open.remove(entry)

    async def pipe(self, reader, writer):
        queue = asyncio.Queue()
        last_due = 0.0

        async def send():
            while True:
                due, data = await queue.get()
                if data is None:
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                f = self.faults
                due = time.monotonic() + f.delay + random.uniform(-f.jitter, f.jitter)
                if f.stall and random.random() < f.stall:
                    due += 0.2
                last_due = max(last_due, due)
                queue.put_nowait((last_due, data))
        finally:
            queue.put_nowait((0, None))
            await sender

    def apply_cuts(self):
        for src, dst, a, b in list(self.open):
            if (src, dst) in self.faults.cut:
                a.close()
                b.close()


# ---- the chain ----------------------------------------------------------------------

def write_testnet():
    sh(f"rm -rf {OUT}")
    sh(f"{BIN} testnet --validators {VALIDATORS} --replicas {NODES - VALIDATORS} --out {OUT} "
       f"--base-port {BASE_PORT} --hosts {','.join(HOSTS)}")
    targets = {}
    for i in range(NODES):
        targets[i] = (HOSTS[i], BASE_PORT + 2 * i + 1)
    # Every node dials its peers through the proxy on the bridge.
    for i in range(NODES):
        name = f"validator-{i}" if i < VALIDATORS else f"replica-{i - VALIDATORS}"
        path = f"{OUT}/{name}/config.toml"
        text = open(path).read()
        head, sep, peers = text.partition("[[peers]]")
        for j in range(NODES):
            peers = peers.replace(f'p2p = "{HOSTS[j]}:{BASE_PORT + 2 * j + 1}"',
                                  f'p2p = "{BRIDGE_IP}:{PROXY_BASE + j}"')
        open(path, "w").write(head + sep + peers)
    return targets


def start_nodes():
    procs = []
    for i in range(NODES):
        name = f"validator-{i}" if i < VALIDATORS else f"replica-{i - VALIDATORS}"
        log = open(f"{OUT}/{name}.log", "w")
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", f"lanes-n{i}", BIN, "--config", f"{OUT}/{name}/config.toml"],
            stdout=log, stderr=log))
    return procs


def url(i):
    return f"http://{HOSTS[i]}:{BASE_PORT + 2 * i}"


def head(i):
    try:
        return int(rpc(url(i), "eth_blockNumber", [], timeout=2)["result"], 16)
    except Exception:
        return -1


# ---- the load -----------------------------------------------------------------------

class Load:
    def __init__(self):
        self.sent = {}  # hash -> (sent at, phase)
        self.acked = set()
        self.errors = []  # (hash, message)
        self.seen = {}  # hash -> first served by validator-0
        self.phase = "setup"
        self.running = True
        self.heads = []  # (time, validator-0's head)

    async def sender(self, k):
        acct = Account.from_key(DEV_KEYS[k])
        nonce = int(rpc(url(0), "eth_getTransactionCount", [acct.address, "pending"])["result"], 16)
        period = NODES / RATE
        retry = None
        while self.running:
            if retry is None:
                tx = {"chainId": CHAIN_ID, "nonce": nonce, "to": to_checksum_address("0x" + "be" * 20), "value": 1,
                      "gas": 21000, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9, "type": 2}
                signed = acct.sign_transaction(tx)
                raw = "0x" + bytes(signed.raw_transaction).hex()
                h = "0x" + bytes(signed.hash).hex()
                self.sent.setdefault(h, (time.monotonic(), self.phase))
            else:
                raw, h = retry
            via = random.randrange(NODES)
            try:
                answer = await asyncio.to_thread(rpc, url(via), "eth_sendRawTransaction", [raw], 10)
            except Exception as e:
                answer = {"error": {"message": f"transport: {e}"}}
            if "result" in answer:
                self.acked.add(h)
                nonce += 1
                retry = None
            else:
                self.errors.append((h, answer["error"]["message"]))
                retry = (raw, h)  # a wallet sends it again
            await asyncio.sleep(period)

    async def watcher(self):
        number = head(0)
        while self.running:
            try:
                latest = await asyncio.to_thread(head, 0)
                now = time.monotonic()
                self.heads.append((now, latest))
                while number < latest:
                    number += 1
                    b = await asyncio.to_thread(rpc, url(0), "eth_getBlockByNumber", [hex(number), False])
                    for h in b["result"]["transactions"]:
                        self.seen.setdefault(h, now)
            except Exception:
                pass
            await asyncio.sleep(0.02)


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def rate_between(heads, start, end):
    inside = [(t, h) for t, h in heads if start <= t <= end and h >= 0]
    if len(inside) < 2:
        return 0.0
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


async def main():
    # Links the proxy cut or closes at the end end with cancelled reads.
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
    targets = write_testnet()
    faults = Faults()
    proxy = Proxy(faults, targets)
    await proxy.start()
    procs = start_nodes()
    rows = []
    try:
        deadline = time.monotonic() + 120
        while min(head(i) for i in range(NODES)) < 2:
            if time.monotonic() > deadline:
                raise SystemExit("the testnet did not reach block 2; logs in " + OUT)
            await asyncio.sleep(0.5)
        load = Load()
        tasks = [asyncio.create_task(load.sender(k)) for k in range(NODES)]
        tasks.append(asyncio.create_task(load.watcher()))
        await asyncio.sleep(3)

        async def phase(name, seconds, setup=None, teardown=None):
            load.phase = name
            if setup:
                setup()
                proxy.apply_cuts()
            start = time.monotonic()
            await asyncio.sleep(seconds)
            end = time.monotonic()
            if teardown:
                teardown()
            rows.append((name, start, end))
            return start, end

        def clear():
            faults.delay = faults.jitter = faults.stall = 0.0
            faults.cut = set()

        await phase("none (baseline)", PHASE)

        def delay(ms, jitter, stall=0.0):
            def set_():
                faults.delay, faults.jitter, faults.stall = ms / 1000, jitter / 1000, stall
            return set_
        await phase("50 ms ± 10 ms one-way", PHASE, delay(50, 10), clear)
        await phase("100 ms ± 10 ms + 1% loss", PHASE, delay(100, 10, 0.01), clear)
        await asyncio.sleep(3)
        await phase(f"validator-3 cut off ({CUT:.0f} s)", CUT,
                    lambda: faults.cut_between([3], [0, 1, 2, 4]), clear)
        await asyncio.sleep(5)
        _, split_end = await phase(f"2-2 split ({CUT:.0f} s)", CUT,
                                   lambda: faults.cut_between([0, 1, 4], [2, 3]), clear)
        proxy.apply_cuts()
        head_at_heal = head(0)
        healed = None
        while time.monotonic() < split_end + 30:
            if head(0) > head_at_heal:
                healed = time.monotonic() - split_end
                break
            await asyncio.sleep(0.02)
        rows.append(("2-2 split healed", split_end, split_end + (healed or 30)))
        await asyncio.sleep(3)
        # The proposer's links cut for 2 s, six times: the validator whose
        # turn the next height would be in plain rotation.
        # (Rotation runs over the validators in address order; each node's
        # coinbase is its validator address.)
        coinbases = [rpc(url(i), "eth_coinbase", [])["result"].lower() for i in range(VALIDATORS)]
        order = sorted(range(VALIDATORS), key=lambda i: coinbases[i])
        gaps = []
        start = time.monotonic()
        for _ in range(6):
            h = head(0)
            victim = order[(h + 1) % VALIDATORS]
            faults.cut_between([victim], [j for j in range(NODES) if j != victim])
            proxy.apply_cuts()
            await asyncio.sleep(2)
            clear()
            t0 = time.monotonic()
            while head(0) <= h and time.monotonic() < t0 + 20:
                await asyncio.sleep(0.02)
            gaps.append(time.monotonic() - t0 + 2)
            await asyncio.sleep(2)
        rows.append(("proposer's links cut 2 s, x6", start, time.monotonic()))
        load.phase = "end"
        await asyncio.sleep(3)
        load.running = False
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                print("a sender failed:", repr(result))
        # Settle (every node answering at one height, bounded), then
        # compare every node.
        await asyncio.sleep(8)
        settle = time.monotonic() + 60
        heads = [head(i) for i in range(NODES)]
        while (min(heads) < 0 or len(set(heads)) > 1) and time.monotonic() < settle:
            await asyncio.sleep(1)
            heads = [head(i) for i in range(NODES)]
        if min(heads) < 0:
            raise SystemExit(f"nodes that do not answer after the faults: {[i for i, h in enumerate(heads) if h < 0]}")
        top = min(heads)
        forks = 0
        for n in range(1, top + 1):
            hashes = {rpc(url(i), "eth_getBlockByNumber", [hex(n), False])["result"]["hash"] for i in range(NODES)}
            forks += len(hashes) > 1
        tops = [rpc(url(i), "eth_getBlockByNumber", [hex(top), False])["result"] for i in range(NODES)]
        same = len({(b["hash"], b["stateRoot"]) for b in tops}) == 1
        included = set()
        for h in set(load.sent):
            r = rpc(url(0), "eth_getTransactionReceipt", [h]).get("result")
            if r:
                included.add(h)
        lost = [h for h in load.acked if h not in included]
        while lost and time.monotonic() < settle:
            await asyncio.sleep(1)
            for h in lost:
                if rpc(url(0), "eth_getTransactionReceipt", [h]).get("result"):
                    included.add(h)
            lost = [h for h in load.acked if h not in included]
        # A refusal of a transaction the chain had already taken (it then
        # shows up included) is a send that lied; a limit's refusal of one a
        # later retry got in is not.
        taken = ("already known", "nonce too low", "transport")
        errors_included = [(h, m) for h, m in load.errors
                           if h in included and any(t in m for t in taken)]
        refused = {}
        for _, m in load.errors:
            key = m.split(":")[0][:60]
            refused[key] = refused.get(key, 0) + 1
        print(f"\n4 validators + 1 replica in network namespaces, {RATE:g} tx/s from 5 senders "
              f"(delay, loss and cuts by a user-space TCP proxy on the consensus links)\n")
        print("| fault | blocks/s | send to decided p50 / p99 (ms) | sends answered with an error |")
        print("|---|---:|---:|---:|")
        base_rate = None
        for name, start, end in rows:
            lat = [(load.seen[h] - t) * 1000 for h, (t, p) in load.sent.items() if p == name and h in load.seen]
            errs = sum(1 for h, _ in load.errors if load.sent.get(h, (0, ""))[1] == name)
            r = rate_between(load.heads, start, end)
            if base_rate is None:
                base_rate = r
            note = ""
            if name == "2-2 split healed":
                note = f" (next height {healed:.1f} s after healing)" if healed is not None else " (none within 30 s)"
            if name.startswith("proposer"):
                note = f" (next height {', '.join(f'{g:.1f}' for g in gaps)} s after each cut began)"
            if name.startswith("validator-3"):
                note = f" ({r / base_rate:.2f}x the baseline)" if base_rate else ""
            print(f"| {name}{note} | {r:.2f} | {pct(lat, 50):.0f} / {pct(lat, 99):.0f} | {errs} |")
        print(f"\nacknowledged: {len(load.acked)}, lost: {len(lost)}; sends answered with an error for a "
              f"transaction then included: {len(errors_included)}; heights with two blocks: {forks} of {top}; "
              f"heads {heads}, the same block and state root at {top} on all five: {same}")
        if refused:
            print("refusals (the sender sent the same transaction again):",
                  "; ".join(f"{n} x {m}" for m, n in sorted(refused.items())))
        if errors_included:
            print("  e.g.", errors_included[:3])
        ok = not lost and not forks and same and not errors_included
        print("netfaults:", "ok" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    if os.geteuid() != 0:
        raise SystemExit("run as root: the nodes live in network namespaces")
    netns_up()
    try:
        code = asyncio.run(main())
    finally:
        netns_down()
    sys.exit(code)
