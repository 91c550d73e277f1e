"""web3.py (from PyPI) drives lanes' debug_trace* methods on a token transfer.

Usage: python3 web3_traces.py HTTP_URL TOKEN_ARTIFACT_JSON
Run by tests/it/rpc_methods.rs; every check raises on failure, and the last
line printed is "web3 traces: ok".
"""

import json
import sys

from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3RPCError

HTTP, ARTIFACT = sys.argv[1], sys.argv[2]


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what, flush=True)


def rpc(method, *params):
    answer = w3.provider.make_request(method, list(params))
    if "error" in answer:
        raise Web3RPCError(json.dumps(answer["error"]))
    return answer["result"]


w3 = Web3(Web3.HTTPProvider(HTTP, request_kwargs={"timeout": 60}))
a0, a1 = w3.eth.accounts[:2]
artifact = json.load(open(ARTIFACT))
Token = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
deployed = w3.eth.wait_for_transaction_receipt(
    Token.constructor("Trace Token", "TRC", 10**24).transact({"from": a0}))
token = w3.eth.contract(address=deployed.contractAddress, abi=artifact["abi"])
to = Account.create().address
tx = token.functions.transfer(to, 1234).transact({"from": a0})
receipt = w3.eth.wait_for_transaction_receipt(tx)
check(receipt.status == 1, "a token transfer")
tx_hex = "0x" + tx.hex().removeprefix("0x")

# callTracer: one CALL frame from the sender to the token, its input and
# output, the Transfer log with withLog.
frame = rpc("debug_traceTransaction", tx_hex, {"tracer": "callTracer", "tracerConfig": {"withLog": True}})
check(frame["type"] == "CALL" and frame["from"].lower() == a0.lower()
      and frame["to"].lower() == token.address.lower(), "callTracer: the top CALL frame")
check(frame["input"] == token.encode_abi("transfer", args=[to, 1234]), "its input is the calldata")
check(int(frame["output"], 16) == 1 and int(frame["gasUsed"], 16) == receipt.gasUsed, "its output and gas")
check(len(frame["logs"]) == 1 and frame["logs"][0]["topics"][0]
      == "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x"),
      "the Transfer log in the frame")

# prestateTracer in diffMode: the two balance slots and the sender's nonce move.
diff = rpc("debug_traceTransaction", tx_hex, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}})
pre, post = diff["pre"], diff["post"]
token_key = next(k for k in post if k.lower() == token.address.lower())
check(len(post[token_key]["storage"]) == 2, "prestate diff: two token slots changed")
sender_key = next(k for k in post if k.lower() == a0.lower())
check(post[sender_key]["nonce"] == pre[sender_key]["nonce"] + 1, "the sender's nonce went up by one")
before = {int(v, 16) for v in pre[token_key]["storage"].values()}
after = {int(v, 16) for v in post[token_key]["storage"].values()}
check(1234 in after and 10**24 in before, "the balances before and after the transfer")
plain = rpc("debug_traceTransaction", tx_hex, {"tracer": "prestateTracer"})
check(token_key in plain and "code" in plain[token_key], "prestateTracer: the accounts it read, with code")

# The struct logger: opcodes with gas, the last one a RETURN.
logs = rpc("debug_traceTransaction", tx_hex, {"disableStorage": True})
check(logs["failed"] is False and logs["gas"] == receipt.gasUsed, "struct logger: gas and status")
check(logs["structLogs"][-1]["op"] == "RETURN" and len(logs["structLogs"]) > 100, "with its steps")

# The block, and a call.
block = rpc("debug_traceBlockByNumber", hex(receipt.blockNumber), {"tracer": "callTracer"})
check(len(block) == 1 and block[0]["txHash"] == tx_hex and block[0]["result"]["type"] == "CALL",
      "debug_traceBlockByNumber")
by_hash = rpc("debug_traceBlockByHash", "0x" + receipt.blockHash.hex().removeprefix("0x"), {"tracer": "callTracer"})
check(by_hash == block, "debug_traceBlockByHash gives the same")
call = rpc("debug_traceCall", {"from": a1, "to": token.address,
                               "data": token.encode_abi("balanceOf", args=[to])}, "latest",
           {"tracer": "callTracer"})
check(int(call["output"], 16) == 1234, "debug_traceCall runs as eth_call does")

# Bad input: an unknown tracer, a trace past its budget, an unknown hash.
for params, cause in [
    ([tx_hex, {"tracer": "nosuchTracer"}], "unknown tracer"),
    (["0x" + "00" * 32, {}], "not found"),
]:
    try:
        rpc("debug_traceTransaction", *params)
        raise AssertionError(f"{params} must fail")
    except Web3RPCError as e:
        check(cause in str(e), f"refused: {cause}")
loop = "0x5b600056"  # JUMPDEST PUSH1 0 JUMP: runs until its gas is gone
try:
    rpc("debug_traceCall", {"from": a1, "data": loop, "gas": hex(30_000_000)}, "latest", {"timeout": "50ms"})
    raise AssertionError("the loop's trace must run past 50ms")
except Web3RPCError as e:
    check("time budget" in str(e), "a trace past its budget is stopped")
try:
    rpc("debug_traceCall", {"from": a1, "data": loop, "gas": hex(30_000_000)}, "latest",
        {"timeout": "60s", "disableStack": True})
    raise AssertionError("the struct log of the loop must exceed its size budget")
except Web3RPCError as e:
    check("size budget" in str(e), "a struct log past its size budget is stopped")
check(w3.eth.block_number >= receipt.blockNumber, "the node keeps serving")
print("web3 traces: ok", flush=True)
