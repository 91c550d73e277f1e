"""End-to-end run of web3.py (from PyPI) against a lanes-validator --dev node.

Usage: python3 web3_e2e.py HTTP_URL WS_URL TOKEN_ARTIFACT_JSON
Run by tests/it/validator.rs; every check raises on failure, and the last line
printed is "web3 e2e: ok".
"""

import asyncio
import json
import sys

from eth_abi import decode as abi_decode
from eth_account import Account
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractCustomError, ContractPanicError, Web3RPCError
from web3.providers.persistent import WebSocketProvider

HTTP, WS, ARTIFACT = sys.argv[1], sys.argv[2], sys.argv[3]
ANVIL_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
KEY_1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what, flush=True)


w3 = Web3(Web3.HTTPProvider(HTTP, request_kwargs={"timeout": 30}))
check(w3.is_connected(), "connected")
check(w3.eth.chain_id == 31337, "chain id 31337")
accounts = w3.eth.accounts
check(len(accounts) == 10 and accounts[0] == ANVIL_0, "the ten dev accounts, anvil's first")
a0, a1, a2, a3, a4 = accounts[:5]
check(w3.eth.get_balance(a4) == 10_000 * 10**18, "dev accounts hold 10000 ETH")

# Deploy the ERC-20 compiled from contracts/Token.sol, from an unlocked account.
artifact = json.load(open(ARTIFACT))
Token = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
supply = 1_000_000 * 10**18
tx = Token.constructor("Lanes Token", "LNT", supply).transact({"from": a0})
receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30, poll_latency=0.1)
check(receipt.status == 1 and receipt.contractAddress, "token deployed")
token = w3.eth.contract(address=receipt.contractAddress, abi=artifact["abi"])
check(len(w3.eth.get_code(token.address)) > 0, "eth_getCode returns the runtime code")
check(token.functions.totalSupply().call() == supply, "eth_call reads totalSupply")

# A transfer through eth_sendTransaction, one signed here (eth_sendRawTransaction).
tx = token.functions.transfer(a1, 1_000).transact({"from": a0})
receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30, poll_latency=0.1)
check(receipt.status == 1, "transfer succeeded")
events = token.events.Transfer().process_receipt(receipt)
check(len(events) == 1 and events[0].args["to"] == a1 and events[0].args["value"] == 1_000,
      "receipt carries the Transfer log")
signer = Account.from_key(KEY_1)
check(signer.address == a1, "account 1's key")
built = token.functions.transfer(a2, 400).build_transaction({
    "from": a1, "nonce": w3.eth.get_transaction_count(a1, "pending"), "chainId": 31337,
})
raw = signer.sign_transaction(built).raw_transaction
h = w3.eth.send_raw_transaction(raw)
receipt = w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.1)
check(receipt.status == 1, "a locally signed transfer succeeded")
check(token.functions.balanceOf(a1).call() == 600 and token.functions.balanceOf(a2).call() == 400,
      "balances after the transfers")
logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": token.address})
check(len(logs) == 3, f"eth_getLogs finds the mint and two transfers ({len(logs)})")
tx_obj = w3.eth.get_transaction(h)
check(tx_obj["from"] == a1 and tx_obj["blockNumber"] == receipt.blockNumber, "eth_getTransactionByHash")

# State at an older block, as hardhat's chai matchers and viem's blockNumber
# read it: balances and an eth_call at the block of the transfer above stay
# what they were after later transfers, by number and by hash (EIP-1898).
then = receipt.blockNumber
then_hash = w3.eth.get_block(then).hash
eth_then = w3.eth.get_balance(a1, then)
for _ in range(3):
    tx = token.functions.transfer(a2, 50).transact({"from": a1})
    w3.eth.wait_for_transaction_receipt(tx, timeout=30, poll_latency=0.1)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": a1, "to": a3, "value": 7}))
check(w3.eth.block_number >= then + 6, "six later blocks")
check(token.functions.balanceOf(a1).call() == 450, "the latest token balance moved on")
check(token.functions.balanceOf(a1).call(block_identifier=then) == 600,
      "eth_call at the older block reads the balance it had then")
check(token.functions.balanceOf(a1).call(block_identifier=then - 1) == 1_000,
      "eth_call one block before reads the balance before the transfer")
check(token.functions.balanceOf(a1).call(block_identifier=then_hash) == 600,
      "eth_call at a block hash")
call = {"to": token.address, "data": token.encode_abi("balanceOf", args=[a1])}
by_object = w3.provider.make_request(
    "eth_call", [call, {"blockHash": "0x" + then_hash.hex().removeprefix("0x"), "requireCanonical": True}])
check(int(by_object["result"], 16) == 600, "eth_call at an EIP-1898 block object")
check(w3.eth.get_balance(a1, then) == eth_then and w3.eth.get_balance(a1) < eth_then,
      "eth_getBalance at the older block is unchanged by later sends")
check(w3.eth.get_transaction_count(a1, then) == 1 and w3.eth.get_transaction_count(a1) == 7,
      "eth_getTransactionCount at the older block")
check(w3.eth.get_code(token.address, then) == w3.eth.get_code(token.address)
      and w3.eth.get_code(token.address, 0) == b"", "eth_getCode before and after the deploy")
slot_then = w3.eth.get_storage_at(token.address, 2, then)
check(int.from_bytes(slot_then, "big") == supply, "eth_getStorageAt at the older block (totalSupply)")
gas_then = w3.eth.estimate_gas({"from": a1, "to": token.address,
                                "data": token.encode_abi("transfer", args=[a2, 600])}, then)
check(gas_then > 21_000, "eth_estimateGas at the older block: all 600 could be sent then")
try:
    w3.eth.estimate_gas({"from": a1, "to": token.address,
                         "data": token.encode_abi("transfer", args=[a2, 600])})
    raise AssertionError("sending 600 now must fail: only 450 are left")
except (ContractCustomError, Web3RPCError) as e:
    check(True, f"and at the latest block it reverts ({type(e).__name__})")

# Filters: a block filter, a Transfer log filter and a pending-transaction
# filter see what happens after they are made; uninstalled, a filter is gone.
blocks = w3.eth.filter("latest")
pending = w3.eth.filter("pending")
listener = Account.create().address
transfers = token.events.Transfer.create_filter(from_block="latest", argument_filters={"to": listener})
check(blocks.get_new_entries() == [] and transfers.get_new_entries() == [], "new filters start empty")
tx = token.functions.transfer(listener, 21).transact({"from": a0})
mined = w3.eth.wait_for_transaction_receipt(tx, timeout=30, poll_latency=0.1)
new_blocks = blocks.get_new_entries()
check(mined.blockHash in new_blocks, f"the block filter sees the new block ({len(new_blocks)})")
entries = transfers.get_new_entries()
check(len(entries) == 1 and entries[0].args["value"] == 21 and entries[0].transactionHash == tx,
      "the log filter sees the Transfer")
check(transfers.get_new_entries() == [], "and reports it once")
check(tx in pending.get_new_entries(), "the pending filter saw the transaction")
everything = transfers.get_all_entries()
check(len(everything) == 1 and everything[0].args["to"] == listener, "eth_getFilterLogs: all matching logs")
check(w3.eth.uninstall_filter(blocks.filter_id), "eth_uninstallFilter")
try:
    w3.eth.get_filter_changes(blocks.filter_id)
    raise AssertionError("an uninstalled filter must be unknown")
except Web3RPCError as e:
    check("filter not found" in str(e), "an uninstalled filter is not found")

# eth_call of a revert: the custom error and its arguments come back.
try:
    token.functions.transfer(a0, 10**30).call({"from": a3})
    raise AssertionError("the call should revert")
except ContractCustomError as e:
    data = e.data if isinstance(e.data, str) else e.message
    selector = Web3.keccak(text="ERC20InsufficientBalance(address,uint256,uint256)")[:4].hex()
    payload = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    check(payload[:4].hex() == selector.removeprefix("0x"), "revert data is ERC20InsufficientBalance")
    sender, have, need = abi_decode(["address", "uint256", "uint256"], payload[4:])
    check(Web3.to_checksum_address(sender) == a3 and have == 0 and need == 10**30,
          "revert reason decodes: (sender, balance 0, needed 1e30)")
try:
    token.functions.mint(a0, 2**256 - 1).call({"from": a0})
    raise AssertionError("the overflowing mint should revert")
except ContractPanicError as e:
    check("0x11" in str(e) or "overflow" in str(e).lower(), f"panic reason read: {e}")

# eth_createAccessList, then two transfers sent with their lists in one batch
# request: lanes runs them side by side in one entry.
def signed_transfer(key, sender, to, amount, nonce):
    call = {"from": sender, "to": token.address,
            "data": token.encode_abi("transfer", args=[to, amount])}
    listed = w3.eth.create_access_list(call)
    tx = {
        **call, "nonce": nonce, "chainId": 31337, "gas": 100_000, "type": 2,
        "maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 10**9,
        "accessList": listed["accessList"],
    }
    return listed, Account.from_key(key).sign_transaction(tx)

KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
side_by_side = False
for attempt in range(5):
    n0 = w3.eth.get_transaction_count(a0, "pending")
    n1 = w3.eth.get_transaction_count(a1, "pending")
    l0, s0 = signed_transfer(KEY_0, a0, a3, 7, n0)
    l1, s1 = signed_transfer(KEY_1, a1, a4, 5, n1)
    keys = {(x["address"].lower(), len(x["storageKeys"])) for x in l0["accessList"]}
    check((token.address.lower(), 2) in keys, "access list names the token and two balance slots")
    # Both wait for one mine request, so they are in one block; web3.py
    # refuses sends inside batch_requests(), so they go as one JSON-RPC batch.
    w3.provider.make_request("evm_setAutomine", [False])
    answers = w3.provider.make_batch_request([
        ("eth_sendRawTransaction", ["0x" + s0.raw_transaction.hex().removeprefix("0x")]),
        ("eth_sendRawTransaction", ["0x" + s1.raw_transaction.hex().removeprefix("0x")]),
    ])
    hashes = [a["result"] for a in answers]
    w3.provider.make_request("evm_mine", [])
    w3.provider.make_request("evm_setAutomine", [True])
    r0 = w3.eth.wait_for_transaction_receipt(hashes[0], timeout=30, poll_latency=0.1)
    r1 = w3.eth.wait_for_transaction_receipt(hashes[1], timeout=30, poll_latency=0.1)
    check(r0.status == 1 and r1.status == 1, "both declared transfers succeeded")
    check(r0.blockNumber == r1.blockNumber, "one mine request, one block")
    entries = w3.provider.make_request("lanes_getBlockEntries", [hex(r0.blockNumber)])["result"]
    for entry in entries["entries"]:
        got = {t.lower() for t in entry["transactions"]}
        if {"0x" + r0.transactionHash.hex().removeprefix("0x"), "0x" + r1.transactionHash.hex().removeprefix("0x")} <= got:
            check(not entry["exclusive"], "the entry is a parallel one")
            side_by_side = True
    if side_by_side:
        break
check(side_by_side, "lanes_getBlockEntries shows the two transfers in one entry")
check(token.functions.balanceOf(a4).call() % 5 == 0 and token.functions.balanceOf(a4).call() > 0,
      "a4 received its tokens")

# Full transactions in a block.
block = w3.eth.get_block(r0.blockNumber, full_transactions=True)
check(any(t["hash"] == r0.transactionHash for t in block.transactions), "eth_getBlockByNumber with full txs")
check(block.transactions[0]["from"] in (a0, a1), "full txs carry their sender")
check(w3.eth.get_block(block.hash).number == block.number, "eth_getBlockByHash")

# A batch of reads.
with w3.batch_requests() as batch:
    batch.add(w3.eth.get_balance(a0))
    batch.add(token.functions.balanceOf(a2))
    batch.add(w3.eth.get_block("latest"))
    balance, tokens, latest = batch.execute()
check(balance > 0 and tokens == 550 and latest.number >= r0.blockNumber, "a batch of three calls")

fee = w3.eth.fee_history(4, "latest", [50])
check(len(fee["baseFeePerGas"]) == 5, "eth_feeHistory")
check(w3.eth.max_priority_fee > 0 and w3.eth.gas_price > 0, "fee suggestions")
stats = w3.provider.make_request("lanes_stats", [])["result"]
check(stats["transactions"] >= 5, "lanes_stats counts the transactions")

# newHeads and logs over WebSocket: hex-string subscription ids, heads in
# order, and the Transfer log of a transfer sent while subscribed.
async def subscriptions():
    async with AsyncWeb3(WebSocketProvider(WS)) as aw3:
        heads_id = await aw3.eth.subscribe("newHeads")
        check(isinstance(heads_id, str) and heads_id.startswith("0x"),
              f"subscription id is a hex string ({heads_id})")
        logs_id = await aw3.eth.subscribe("logs", {"address": token.address})
        sent = await aw3.eth.send_transaction({
            "from": a0, "to": token.address, "data": token.encode_abi("transfer", args=[a3, 9]),
        })
        # Two more blocks (an automining node seals no empty ones).
        for _ in range(2):
            await aw3.eth.send_transaction({"from": a1, "to": a4, "value": 1})
        numbers, logs = [], []
        async for message in aw3.socket.process_subscriptions():
            if message["subscription"] == heads_id:
                numbers.append(message["result"]["number"])
            elif message["subscription"] == logs_id:
                logs.append(message["result"])
            if len(numbers) >= 3 and logs:
                break
        check(numbers == sorted(numbers) and len(set(numbers)) == len(numbers), f"heads in order {numbers}")
        check(logs[0]["transactionHash"] == sent and logs[0]["address"] == token.address,
              "the logs subscription delivers the transfer's log")
        await aw3.eth.unsubscribe(heads_id)
        await aw3.eth.unsubscribe(logs_id)

asyncio.run(asyncio.wait_for(subscriptions(), 30))

# geth's getters by block and index, the raw encodings, the fee getters and
# many slots at once.
block = w3.eth.get_block(r0.blockNumber)
check(w3.eth.get_block_transaction_count(block.hash) == len(block.transactions),
      "eth_getBlockTransactionCountByHash")
for at in (r0.blockNumber, block.hash):
    found = w3.eth.get_transaction_by_block(at, r0.transactionIndex)
    check(found["hash"] == r0.transactionHash, f"eth_getTransactionByBlock*AndIndex at {at!r}")
raw = w3.eth.get_raw_transaction(r0.transactionHash)
check(Web3.keccak(raw) == r0.transactionHash, "eth_getRawTransactionByHash hashes to the transaction")
check(w3.provider.make_request("debug_getRawTransaction", [r0.transactionHash.to_0x_hex()])["result"]
      == raw.to_0x_hex(), "debug_getRawTransaction")
number = hex(r0.blockNumber)
header = w3.provider.make_request("debug_getRawHeader", [number])["result"]
check(Web3.keccak(hexstr=header) == block.hash, "debug_getRawHeader hashes to the block")
whole = w3.provider.make_request("debug_getRawBlock", [number])["result"]
check(header[2:] in whole and int(block["size"]) == len(whole) // 2 - 1,
      "debug_getRawBlock holds the header and is the block's size")
receipts = w3.provider.make_request("debug_getRawReceipts", [number])["result"]
check(len(receipts) == len(block.transactions), "debug_getRawReceipts, one per transaction")
base_fee = int(w3.provider.make_request("eth_baseFee", [])["result"], 16)
check(base_fee == w3.eth.gas_price - w3.eth.max_priority_fee, f"eth_baseFee {base_fee}")
check(w3.eth.blob_base_fee >= 1, "eth_blobBaseFee")
slots = ["0x0", "0x1", "0x2"]
values = w3.provider.make_request("eth_getStorageValues", [{token.address: slots}, "latest"])["result"]
values = next(iter(values.values()))
check([int(v, 16) for v in values]
      == [int.from_bytes(w3.eth.get_storage_at(token.address, int(s, 16))) for s in slots],
      "eth_getStorageValues equals eth_getStorageAt slot by slot")
too_long = "0x" + "00" * 33
error = w3.provider.make_request("eth_getStorageAt", [token.address, too_long, "latest"]).get("error")
check(error is not None and error["code"] == -32602, f"a 33-byte storage key is refused: {error}")
head = w3.eth.block_number
error = w3.provider.make_request("eth_getLogs", [{"fromBlock": hex(head), "toBlock": hex(head + 5)}]).get("error")
check(error is not None and error["code"] == -32602, f"a log range past the head is refused: {error}")

# An error the client surfaces as such.
try:
    w3.eth.send_raw_transaction(s0.raw_transaction)
    raise AssertionError("a replayed transaction must be refused")
except Web3RPCError as e:
    check("nonce too low" in str(e), f"nonce too low: {e}")

print("web3 e2e: ok", flush=True)
