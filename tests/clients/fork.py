"""A forked-chain test written against anvil, run with web3.py (from PyPI).

Usage:
  python3 fork.py setup UPSTREAM ARTIFACTS_DIR STATE_JSON
      builds a chain on UPSTREAM (two tokens, a pair with liquidity, a
      contract wallet holding tokens and ETH, a token holder without a key)
      and writes what it made to STATE_JSON.
  python3 fork.py check UPSTREAM FORK STATE_JSON ARTIFACTS_DIR [FORK_UPSTREAM]
      checks a node forking UPSTREAM at the state's fork block (lanes-validator
      --dev --fork-url or anvil --fork-url): state, blocks, transactions and
      logs below the fork match the upstream's; then runs transactions on the
      fork (an impersonated holder's transfer, a contract wallet sending by
      impersonation, a swap, snapshot and revert, a trace, anvil_reset) and
      checks that the upstream did not change. Prints "fork check: ok".
      FORK_UPSTREAM is the URL the fork was started with, which anvil_reset
      names (default UPSTREAM).
  python3 fork.py touch FORK STATE_JSON ARTIFACTS_DIR COUNT
      first-touch and cached latency: COUNT accounts and COUNT token balances
      never read before, each read twice; prints one JSON line of medians.
"""

import json
import statistics
import sys
import time

from web3 import Web3

HOLDER = Web3.to_checksum_address("0x00000000000000000000000000000000000b0b00")


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what, flush=True)


def connect(url):
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))
    assert w3.is_connected(), f"cannot reach {url}"
    return w3


def artifact(folder, name):
    return json.load(open(f"{folder}/{name}.json"))


def send(w3, tx):
    h = w3.eth.send_transaction(tx)
    r = w3.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.05)
    assert r.status == 1, f"transaction {h.to_0x_hex()} failed: {r}"
    return r


def deploy(w3, art, sender, *args, value=0):
    c = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    r = send(w3, c.constructor(*args).build_transaction({"from": sender, "value": value}))
    return w3.eth.contract(address=r.contractAddress, abi=art["abi"]), r


def setup(upstream, folder, out):
    w3 = connect(upstream)
    a0, a1, a2, a3 = w3.eth.accounts[:4]
    token = artifact(folder, "Token")
    supply = 10**24
    ta, r_a = deploy(w3, token, a0, "Token A", "TKA", supply)
    tb, _ = deploy(w3, token, a0, "Token B", "TKB", supply)
    pair, _ = deploy(w3, artifact(folder, "Pair"), a0, ta.address, tb.address)
    send(w3, ta.functions.transfer(pair.address, 10**22).build_transaction({"from": a0}))
    send(w3, tb.functions.transfer(pair.address, 4 * 10**22).build_transaction({"from": a0}))
    send(w3, pair.functions.mint(a0).build_transaction({"from": a0}))
    wallet, _ = deploy(w3, artifact(folder, "Wallet"), a0, a3, value=5 * 10**18)
    send(w3, ta.functions.transfer(wallet.address, 7 * 10**20).build_transaction({"from": a0}))
    transfer = send(w3, ta.functions.transfer(HOLDER, 3 * 10**20).build_transaction({"from": a0}))
    send(w3, {"from": a0, "to": HOLDER, "value": 10**17})
    send(w3, ta.functions.transfer(a1, 10**20).build_transaction({"from": a0}))
    # Blocks without transactions, as a live chain has.
    w3.provider.make_request("evm_mine", [])
    w3.provider.make_request("evm_mine", [])
    state = {
        "tokenA": ta.address,
        "tokenB": tb.address,
        "pair": pair.address,
        "wallet": wallet.address,
        "holder": HOLDER,
        "deployTx": r_a.transactionHash.to_0x_hex(),
        "transferTx": transfer.transactionHash.to_0x_hex(),
        "transferBlock": transfer.blockNumber,
        "forkBlock": w3.eth.block_number,
        "chainId": w3.eth.chain_id,
    }
    json.dump(state, open(out, "w"))
    print("fork setup: ok", json.dumps(state), flush=True)


def rpc(w3, method, params):
    answer = w3.provider.make_request(method, params)
    if "error" in answer:
        raise AssertionError(f"{method}: {answer['error']}")
    return answer["result"]


def check_fork(upstream_url, fork_url, state_file, folder, fork_upstream=None):
    fork_upstream = fork_upstream or upstream_url
    s = json.load(open(state_file))
    up, w3 = connect(upstream_url), connect(fork_url)
    n = s["forkBlock"]
    abi = artifact(folder, "Token")["abi"]
    pair_abi = artifact(folder, "Pair")["abi"]
    wallet_abi = artifact(folder, "Wallet")["abi"]
    ta, tb = (w3.eth.contract(address=s[k], abi=abi) for k in ("tokenA", "tokenB"))
    up_ta = up.eth.contract(address=s["tokenA"], abi=abi)
    pair = w3.eth.contract(address=s["pair"], abi=pair_abi)
    wallet = w3.eth.contract(address=s["wallet"], abi=wallet_abi)
    a0, a1, a2, a3 = w3.eth.accounts[:4]
    holder = s["holder"]
    up_head = up.eth.block_number

    # The fork's chain as the upstream had it.
    check(w3.eth.chain_id == s["chainId"], "the fork keeps the upstream's chain id")
    check(w3.eth.block_number >= n, f"the fork starts at the fork block {n}")
    w3.provider.make_request("anvil_reset", [{"forking": {"jsonRpcUrl": fork_upstream, "blockNumber": n}}])
    check(w3.eth.block_number == n, "anvil_reset with forking goes back to the fork block")
    check(w3.eth.get_block("latest").hash == up.eth.get_block(n).hash,
          "a fork's latest block before its own is the upstream's fork block")
    for who in (holder, s["wallet"], s["pair"]):
        check(w3.eth.get_balance(who) == up.eth.get_balance(who, n), f"{who}'s ETH as upstream")
        check(ta.functions.balanceOf(who).call() == up_ta.functions.balanceOf(who).call(block_identifier=n),
              f"{who}'s token A as upstream")
    for k in ("tokenA", "pair", "wallet"):
        check(w3.eth.get_code(s[k]) == up.eth.get_code(s[k], n), f"{k}'s code as upstream")
    for slot in range(6):
        check(w3.eth.get_storage_at(s["pair"], slot) == up.eth.get_storage_at(s["pair"], slot, n),
              f"pair slot {slot} as upstream")
    reserves = pair.functions.getReserves().call()
    check(reserves[0] == 10**22 and reserves[1] == 4 * 10**22, "the pair's reserves through eth_call")
    check(wallet.functions.owner().call() == a3, "the wallet's owner through eth_call")
    for b in sorted({0, 1, s["transferBlock"], n}):
        mine, theirs = w3.eth.get_block(b), up.eth.get_block(b)
        check(mine.hash == theirs.hash and mine.transactions == theirs.transactions
              and mine.stateRoot == theirs.stateRoot, f"block {b} is the upstream's")
    check(w3.eth.get_block(s["transferBlock"], full_transactions=True).transactions[0]["hash"]
          == up.eth.get_block(s["transferBlock"], full_transactions=True).transactions[0]["hash"],
          "a forked block's full transactions")
    check(w3.eth.get_block(up.eth.get_block(n).hash).number == n, "the fork block by its hash")
    tx, up_tx = w3.eth.get_transaction(s["transferTx"]), up.eth.get_transaction(s["transferTx"])
    check(tx.blockHash == up_tx.blockHash and tx.input == up_tx.input, "a forked transaction by hash")
    rc, up_rc = w3.eth.get_transaction_receipt(s["transferTx"]), up.eth.get_transaction_receipt(s["transferTx"])
    check(rc.logs == up_rc.logs and rc.gasUsed == up_rc.gasUsed, "its receipt, logs included")
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": n, "address": s["tokenA"]})
    up_logs = up.eth.get_logs({"fromBlock": 0, "toBlock": n, "address": s["tokenA"]})
    check(len(logs) >= 5 and logs == up_logs, f"the {len(logs)} logs below the fork")
    check(w3.eth.get_balance(a0) == 10_000 * 10**18 and up.eth.get_balance(a0, n) < 10_000 * 10**18,
          "dev accounts are funded on the fork")

    # Transactions on the fork.
    rpc(w3, "anvil_impersonateAccount", [holder])
    r = send(w3, ta.functions.transfer(a2, 10**20).build_transaction({"from": holder}))
    check(ta.functions.balanceOf(a2).call() == 10**20, "an impersonated holder's token transfer")
    local_block = r.blockNumber
    check(local_block == n + 1 and w3.eth.get_block(local_block).parentHash == up.eth.get_block(n).hash,
          "the fork's first block follows the upstream's fork block")
    rpc(w3, "anvil_stopImpersonatingAccount", [holder])
    rpc(w3, "anvil_impersonateAccount", [s["wallet"]])
    send(w3, ta.functions.transfer(a2, 2 * 10**20).build_transaction({"from": s["wallet"]}))
    send(w3, {"from": s["wallet"], "to": a2, "value": 10**18})
    check(ta.functions.balanceOf(s["wallet"]).call() == 5 * 10**20, "a contract wallet sends by impersonation")
    rpc(w3, "anvil_stopImpersonatingAccount", [s["wallet"]])
    call = ta.functions.transfer(a1, 10**20)._encode_transaction_data()
    send(w3, wallet.functions.execute(s["tokenA"], 0, call).build_transaction({"from": a3}))
    check(ta.functions.balanceOf(a1).call() == 2 * 10**20, "the wallet's owner makes it call out")
    before = tb.functions.balanceOf(a1).call()
    send(w3, ta.functions.transferAndCall(s["pair"], 10**19, b"").build_transaction({"from": a1}))
    got = tb.functions.balanceOf(a1).call() - before
    r0, r1, _ = pair.functions.getReserves().call()
    check(got > 0 and r0 == 10**22 + 10**19 and r1 == 4 * 10**22 - got, f"a swap on the pair paid {got}")
    snap = rpc(w3, "evm_snapshot", [])
    send(w3, ta.functions.transfer(a3, 10**18).build_transaction({"from": a1}))
    check(rpc(w3, "evm_revert", [snap]) is True and ta.functions.balanceOf(a3).call() == 0,
          "snapshot and revert")
    check(ta.functions.balanceOf(a2).call(block_identifier=local_block) == 10**20,
          "state at an older local block")
    trace = rpc(w3, "debug_traceTransaction", [r.transactionHash.to_0x_hex(), {"tracer": "callTracer"}])
    check(trace["to"].lower() == s["tokenA"].lower(), "a local transaction's call trace")
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": s["tokenA"]})
    check(len(logs) == len(up_logs) + 4 and logs[: len(up_logs)] == up_logs,
          "logs across the fork: the upstream's, then the fork's")
    flt = w3.eth.filter({"fromBlock": 0, "address": s["tokenA"]})
    check(flt.get_all_entries() == logs, "a log filter's logs across the fork")
    w3.eth.uninstall_filter(flt.filter_id)

    # The upstream did not change.
    check(up.eth.block_number == up_head, "the upstream made no block")
    check(up_ta.functions.balanceOf(holder).call() == 3 * 10**20, "the upstream's balances are untouched")
    rpc(w3, "anvil_reset", [{"forking": {"jsonRpcUrl": fork_upstream, "blockNumber": n}}])
    check(w3.eth.block_number == n and ta.functions.balanceOf(a2).call() == 0,
          "anvil_reset puts the fork back to the fork block")

    # Another block, no fork, and a fork again, switched at run time.
    earlier = s["transferBlock"] - 1
    rpc(w3, "anvil_reset", [{"forking": {"jsonRpcUrl": fork_upstream, "blockNumber": earlier}}])
    check(w3.eth.block_number == earlier and ta.functions.balanceOf(holder).call() == 0
          and w3.eth.get_block("latest").hash == up.eth.get_block(earlier).hash,
          f"anvil_reset forks the earlier block {earlier}")
    r = send(w3, ta.functions.transfer(a3, 10**18).build_transaction({"from": a0}))
    check(r.blockNumber == earlier + 1 and ta.functions.balanceOf(a3).call() == 10**18,
          "a transaction on the earlier fork")
    rpc(w3, "anvil_reset", [])
    # (anvil 1.7.1 keeps the state it had fetched, lanes starts afresh: the
    # script checks what both do.)
    check(w3.eth.block_number == 0 and w3.eth.get_balance(a0) == 10_000 * 10**18
          and w3.eth.get_block(0).hash != up.eth.get_block(0).hash,
          "anvil_reset without forking runs a chain of its own")
    rpc(w3, "anvil_reset", [{"forking": {"jsonRpcUrl": fork_upstream, "blockNumber": n}}])
    check(w3.eth.block_number == n and ta.functions.balanceOf(holder).call() == 3 * 10**20
          and ta.functions.balanceOf(a3).call() == 0,
          "a node running no fork forks again")
    check(up.eth.block_number == up_head, "the upstream made no block")
    print("fork check: ok", flush=True)


def touch(fork_url, state_file, folder, count):
    s = json.load(open(state_file))
    w3 = connect(fork_url)
    ta = w3.eth.contract(address=s["tokenA"], abi=artifact(folder, "Token")["abi"])
    stamp = int(time.time() * 1000) % 10**9
    fresh = [Web3.to_checksum_address(f"0x{stamp:018x}{i:022x}") for i in range(count)]
    timings = {}
    for name, read in (
        ("balance", lambda a: w3.eth.get_balance(a)),
        ("tokenBalance", lambda a: ta.functions.balanceOf(a).call()),
    ):
        first, cached = [], []
        for a in fresh:
            for into in (first, cached):
                t = time.perf_counter()
                read(a)
                into.append((time.perf_counter() - t) * 1000)
        timings[name] = {"firstMs": statistics.median(first), "cachedMs": statistics.median(cached)}
    print(json.dumps(timings), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "setup":
        setup(sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode == "check":
        check_fork(*sys.argv[2:7])
    elif mode == "touch":
        touch(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        raise SystemExit(__doc__)
