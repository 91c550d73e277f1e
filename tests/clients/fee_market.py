"""The fee market a test of fee logic sees, with web3.py (from PyPI): the same
sequence of empty, half-full and full blocks on a node (lanes-validator --dev
or anvil), then each block's base fee, gas used and gas limit, and
eth_feeHistory over them.

Usage:
  python3 fee_market.py URL
      prints one JSON line {"blocks": [...], "feeHistory": {...}}, then
      "fee market: ok".
"""

import json
import sys

from web3 import Web3

GWEI = 10**9


def main():
    w3 = Web3(Web3.HTTPProvider(sys.argv[1], request_kwargs={"timeout": 60}))
    assert w3.is_connected(), f"cannot reach {sys.argv[1]}"
    sender, to = w3.eth.accounts[0], w3.eth.accounts[1]
    nonce = w3.eth.get_transaction_count(sender)

    def send(count):
        nonlocal nonce
        for _ in range(count):
            w3.eth.send_transaction({
                "from": sender, "to": to, "value": 1, "gas": 21_000, "nonce": nonce,
                "maxFeePerGas": 100 * GWEI, "maxPriorityFeePerGas": GWEI,
            })
            nonce += 1

    def mine_with(count):
        send(count)
        w3.provider.make_request("evm_mine", [])

    start = w3.eth.block_number
    send(1)  # automine: a block of one transfer
    w3.provider.make_request("evm_mine", [])  # an empty block
    # A gas limit of three transfers: the target (half of it) is 31,500 gas.
    w3.provider.make_request("evm_setBlockGasLimit", [hex(63_000)])
    w3.provider.make_request("evm_setAutomine", [False])
    for count in [3, 3, 2, 1, 0, 0, 3]:
        mine_with(count)
    w3.provider.make_request("evm_setAutomine", [True])
    head = w3.eth.block_number
    blocks = []
    for n in range(start, head + 1):
        b = w3.eth.get_block(n)
        blocks.append({"number": n, "baseFeePerGas": b["baseFeePerGas"],
                       "gasUsed": b["gasUsed"], "gasLimit": b["gasLimit"],
                       "transactions": len(b["transactions"])})
    history = w3.provider.make_request(
        "eth_feeHistory", [hex(head - start), "latest", [25, 75]])["result"]
    print(json.dumps({"blocks": blocks, "feeHistory": history}))
    print("fee market: ok")


if __name__ == "__main__":
    main()
