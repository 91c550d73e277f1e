"""Send-then-receipt latency of a web3.py client, as a test suite sees it.

Usage: python3 latency.py HTTP_URL [TRANSFERS]

Sends TRANSFERS (default 20) value transfers one after another from the dev
mnemonic's account 1, each signed here and sent with eth_sendRawTransaction,
and waits for each receipt with web3.py's wait_for_transaction_receipt
(polling every 10 ms). Prints each latency and, last, the line
"latency: median M ms, p90 P ms, first-poll F/N" where F counts receipts
found by the very first eth_getTransactionReceipt after the send returned.
"""

import statistics
import sys
import time

from eth_account import Account
from web3 import Web3

URL = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20
KEY_1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"

w3 = Web3(Web3.HTTPProvider(URL, request_kwargs={"timeout": 30}))
signer = Account.from_key(KEY_1)
nonce = w3.eth.get_transaction_count(signer.address, "pending")
base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
signed = [
    signer.sign_transaction({
        "to": Web3.to_checksum_address("0x" + f"{i + 1:040x}"), "value": 1, "gas": 21_000, "nonce": nonce + i,
        "chainId": w3.eth.chain_id, "type": 2,
        "maxFeePerGas": 2 * base_fee + 10**9, "maxPriorityFeePerGas": 10**9,
    }).raw_transaction
    for i in range(N)
]
latencies, first_poll = [], 0
for raw in signed:
    start = time.perf_counter()
    h = w3.eth.send_raw_transaction(raw)
    try:
        w3.eth.get_transaction_receipt(h)
        first_poll += 1
    except Exception:
        w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.01)
    latencies.append((time.perf_counter() - start) * 1000)
    print(f"{latencies[-1]:.1f} ms", flush=True)
latencies.sort()
p90 = latencies[min(len(latencies) - 1, int(0.9 * len(latencies)))]
print(f"latency: median {statistics.median(latencies):.1f} ms, p90 {p90:.1f} ms, "
      f"first-poll {first_poll}/{N}")
