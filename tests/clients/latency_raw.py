"""Latency of one transaction at a time over raw keep-alive HTTP, as issue 42 measures it.

Usage: python3 latency_raw.py HTTP_URL [TRANSFERS]

Signs TRANSFERS (default 300) value transfers from the dev mnemonic's account 2 up front,
then, one after another on one keep-alive connection, sends each with
eth_sendRawTransaction (under automine the answer comes once its block is committed) and
asks for its receipt with eth_getTransactionReceipt, again at once until it is there (anvil
sometimes answers the send before its block is mined). Prints one line: "send p50 A ms
p99 B ms, send+receipt p50 C ms p99 D ms, first-ask F/N" (F: receipts there on the first ask).
"""

import http.client
import json
import sys
import time
import urllib.parse

from eth_account import Account
from eth_utils import to_checksum_address

URL = urllib.parse.urlparse(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 300
KEY_2 = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"

conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=30)


def rpc(method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    conn.request("POST", "/", body, {"Content-Type": "application/json"})
    reply = json.loads(conn.getresponse().read())
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


signer = Account.from_key(KEY_2)
nonce = int(rpc("eth_getTransactionCount", [signer.address, "pending"]), 16)
chain_id = int(rpc("eth_chainId", []), 16)
base_fee = int(rpc("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
signed = [
    "0x" + signer.sign_transaction({
        "to": to_checksum_address("0x" + f"{i + 1:040x}"), "value": 1, "gas": 21_000, "nonce": nonce + i,
        "chainId": chain_id, "type": 2,
        "maxFeePerGas": 4 * base_fee + 10**9, "maxPriorityFeePerGas": 10**9,
    }).raw_transaction.hex().removeprefix("0x")
    for i in range(N)
]
sends, rounds, first_ask = [], [], 0
for raw in signed:
    start = time.perf_counter()
    h = rpc("eth_sendRawTransaction", [raw])
    sent = time.perf_counter()
    receipt = rpc("eth_getTransactionReceipt", [h])
    first_ask += receipt is not None
    while receipt is None:
        if time.perf_counter() - sent > 30:
            raise RuntimeError(f"no receipt 30 s after the send of {h}: is the node automining?")
        receipt = rpc("eth_getTransactionReceipt", [h])
    done = time.perf_counter()
    sends.append((sent - start) * 1000)
    rounds.append((done - start) * 1000)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


print(f"send p50 {pct(sends, 0.5):.2f} ms p99 {pct(sends, 0.99):.2f} ms, "
      f"send+receipt p50 {pct(rounds, 0.5):.2f} ms p99 {pct(rounds, 0.99):.2f} ms, "
      f"first-ask {first_ask}/{N}")
