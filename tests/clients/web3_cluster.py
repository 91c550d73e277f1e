"""web3.py (from PyPI) against a multi-validator lanes chain, as a dapp
script written for anvil would use it: dev accounts, a contract deployed
through one node, calls and transfers through others, receipts read anywhere.

Usage: python3 web3_cluster.py TOKEN_ARTIFACT_JSON URL...  (validators, then
the replica last). Run by tests/it/cluster.rs; every check raises on
failure, and the last line printed is "web3 cluster: ok".
"""

import json
import sys
import time

from eth_account import Account
from web3 import Web3

ARTIFACT, URLS = sys.argv[1], sys.argv[2:]
MNEMONIC = "test test test test test test test test test test test junk"


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what, flush=True)


nodes = [Web3(Web3.HTTPProvider(u, request_kwargs={"timeout": 30})) for u in URLS]
replica, v0, v1 = nodes[-1], nodes[0], nodes[1]
check(all(w.eth.chain_id == 31337 for w in nodes), "every node on chain 31337")
accounts = replica.eth.accounts
check(len(accounts) == 10, "the ten dev accounts unlocked")
a6, a7, a8 = accounts[6], accounts[7], accounts[8]

# Deploy the ERC-20 (contracts/Token.sol) through the replica: forwarded.
artifact = json.load(open(ARTIFACT))
Token = replica.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
supply = 1_000_000 * 10**18
deploy = Token.constructor("Lanes Token", "LNT", supply).transact({"from": a6})
receipt = v1.eth.wait_for_transaction_receipt(deploy, timeout=60)
check(receipt.status == 1 and receipt.contractAddress, "deployed through the replica")
token = v0.eth.contract(address=receipt.contractAddress, abi=artifact["abi"])

# A token transfer through validator-0 and two raw signed transfers through
# validator-1, back to back (pending nonces), all read back on the replica.
sent = [token.functions.transfer(a8, 1234).transact({"from": a6})]
Account.enable_unaudited_hdwallet_features()
key7 = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/7")
check(key7.address == a7, "the mnemonic's account 7 is eth_accounts[7]")
nonce = v1.eth.get_transaction_count(a7, "pending")
for i in range(2):
    tx = {
        "to": a8, "value": 10**15, "gas": 21000, "nonce": nonce + i, "chainId": 31337,
        "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9,
    }
    sent.append(v1.eth.send_raw_transaction(key7.sign_transaction(tx).raw_transaction))
receipts = [replica.eth.wait_for_transaction_receipt(h, timeout=60) for h in sent]
check(all(r.status == 1 for r in receipts), "every transaction succeeded")
last = max(r.blockNumber for r in receipts)
for w in nodes:
    while w.eth.block_number < last:
        time.sleep(0.05)
check(len({w.eth.get_block(last).hash for w in nodes}) == 1, "every node has the same block")
held = [
    w.eth.contract(address=token.address, abi=artifact["abi"])
    .functions.balanceOf(a8)
    .call(block_identifier=last)
    for w in nodes
]
check(held == [1234] * len(nodes), "every node serves the token balance")
balances = {w.eth.get_balance(a8, block_identifier=last) for w in nodes}
check(len(balances) == 1, "every node serves the same ETH balance")
check(v1.eth.get_transaction_count(a7) == nonce + 2, "each raw transfer included once")
print("web3 cluster: ok")
