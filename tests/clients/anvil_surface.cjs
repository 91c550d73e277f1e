// The rest of anvil's surface, checked on lanes-validator --dev and on anvil
// (from npm) side by side with viem's test client: the same transactions go
// to both, and each answer is compared. State files go both ways (anvil's
// dump loads into lanes, lanes' dump loads into anvil); chain controls
// (setBlockGasLimit, setMinGasPrice, nodeInfo, metadata, evm_mine_detailed,
// dealERC20, setERC20Allowance, eth_call state overrides, the uncle methods); Parity traces
// (trace_transaction, trace_block, trace_filter, trace_replayBlockTransactions;
// trace_replayTransaction and trace_call on lanes, which anvil 1.7.1 lacks);
// Otterscan's ots_* and erigon_getHeaderByNumber.
// Every check throws on failure; the last line is "anvil surface: ok".
//
// Usage: node anvil_surface.cjs LANES_URL ANVIL_URL TOKEN_JSON PAIR_JSON PRIVATE_KEY
"use strict";
const fs = require("fs");
const { client: load, check, run } = require("./lib.cjs");
const viem = load("viem");
const { privateKeyToAccount } = load("viem/_cjs/accounts/index.js");
const { foundry } = load("viem/_cjs/chains/index.js");

const [lanesUrl, anvilUrl, tokenPath, pairPath, key] = process.argv.slice(2);
const token = JSON.parse(fs.readFileSync(tokenPath));
const pair = JSON.parse(fs.readFileSync(pairPath));
const account = privateKeyToAccount(key);

function node(url) {
  return viem
    .createTestClient({ chain: foundry, mode: "anvil", transport: viem.http(url), account })
    .extend(viem.publicActions)
    .extend(viem.walletActions);
}
const raw = (c, method, params = []) => c.request({ method, params });
const lower = (a) => a.toLowerCase();
const json = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x));
const short = (s) => (s.length > 160 ? `${s.slice(0, 160)}…` : s);
const same = (a, b, what) => check(json(a) === json(b), `${what}: ${json(a) === json(b) ? short(json(a)) : `${json(a)} but anvil: ${json(b)}`}`);

/** The same chain of transactions on one node; what the checks need of it. */
async function build(c) {
  const wait = (hash) => c.waitForTransactionReceipt({ hash });
  const deploy = async (artifact, args) => {
    const hash = await c.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args });
    return { hash, address: (await wait(hash)).contractAddress };
  };
  const t0 = await deploy(token, ["Zero", "T0", 10n ** 24n]);
  const t1 = await deploy(token, ["One", "T1", 10n ** 24n]);
  const p = await deploy(pair, [t0.address, t1.address]);
  const send = async (address, abi, functionName, args, gas) => {
    const hash = await c.writeContract({ address, abi, functionName, args, gas });
    return { hash, receipt: await wait(hash) };
  };
  await send(t0.address, token.abi, "transfer", [p.address, 10n ** 21n]);
  await send(t1.address, token.abi, "transfer", [p.address, 10n ** 21n]);
  await send(p.address, pair.abi, "mint", [account.address]);
  const swap = await send(t0.address, token.abi, "transferAndCall", [p.address, 10n ** 18n, "0x"]);
  const payee = "0x00000000000000000000000000000000000beef1";
  const payHash = await c.sendTransaction({ to: payee, value: 12345n });
  await wait(payHash);
  // Fixed gas: estimation would refuse a transaction that reverts.
  const bad = await send(t0.address, token.abi, "transfer", [payee, 10n ** 30n], 100000n);
  check(bad.receipt.status === "reverted", "the over-balance transfer reverted");
  return { t0, t1, p, swap, payHash, payee, bad };
}

/** The parts of a parity trace that do not depend on the node's fees or hashes. */
const shape = (t) => ({
  type: t.type,
  callType: t.action.callType,
  from: t.action.from,
  to: t.action.to,
  value: t.action.value,
  input: t.action.input,
  init: t.action.init,
  output: t.result && (t.result.output || t.result.code),
  address: t.result && t.result.address,
  traceAddress: t.traceAddress,
  subtraces: t.subtraces,
  error: t.error,
});

async function stateFiles(lanes, anvil) {
  // anvil's dump into lanes.
  const a = "0x00000000000000000000000000000000000a0001";
  await anvil.setBalance({ address: a, value: 4242n });
  await anvil.setNonce({ address: a, nonce: 9 });
  await anvil.setCode({ address: a, bytecode: "0x60016000f3" });
  await anvil.setStorageAt({ address: a, index: 3, value: viem.pad("0x77") });
  const fromAnvil = await anvil.dumpState();
  await lanes.loadState({ state: fromAnvil });
  same(await lanes.getBalance({ address: a }), 4242n, "anvil's dump: balance on lanes");
  same(await lanes.getTransactionCount({ address: a }), 9, "anvil's dump: nonce on lanes");
  same(await lanes.getCode({ address: a }), "0x60016000f3", "anvil's dump: code on lanes");
  same(await lanes.getStorageAt({ address: a, slot: "0x3" }), viem.pad("0x77"), "anvil's dump: storage on lanes");
  // lanes' dump into anvil.
  const b = "0x00000000000000000000000000000000000b0002";
  await lanes.setBalance({ address: b, value: 777n });
  await lanes.setNonce({ address: b, nonce: 4 });
  await lanes.setCode({ address: b, bytecode: "0x60026000f3" });
  await lanes.setStorageAt({ address: b, index: 5, value: viem.pad("0x99") });
  const fromLanes = await lanes.dumpState();
  check(fromLanes.startsWith("0x1f8b"), "lanes' dump is gzip, as anvil's");
  await anvil.loadState({ state: fromLanes });
  same(await anvil.getBalance({ address: b }), 777n, "lanes' dump: balance on anvil");
  same(await anvil.getTransactionCount({ address: b }), 4, "lanes' dump: nonce on anvil");
  same(await anvil.getCode({ address: b }), "0x60026000f3", "lanes' dump: code on anvil");
  same(await anvil.getStorageAt({ address: b, slot: "0x5" }), viem.pad("0x99"), "lanes' dump: storage on anvil");
  // A bad state is refused with a reason.
  let refused = "";
  try {
    await raw(lanes, "anvil_loadState", ["0x1234"]);
  } catch (e) {
    refused = e.details || e.message;
  }
  check(/state file/.test(refused), `a bad state is refused: ${refused}`);
}

async function chainControls(c, chain) {
  const t0 = chain.t0.address;
  await c.setBlockGasLimit({ gasLimit: 25_000_000n });
  await c.mine({ blocks: 1 });
  const block = await c.getBlock();
  const info = await raw(c, "anvil_nodeInfo");
  const meta = await raw(c, "anvil_metadata");
  let minGas = null;
  try {
    await c.setMinGasPrice({ gasPrice: 1n });
  } catch (e) {
    minGas = e.code ?? (e.cause && e.cause.code);
  }
  // dealERC20 / setERC20Allowance write the slot the view reads.
  const holder = "0x00000000000000000000000000000000000d0003";
  await raw(c, "anvil_dealERC20", [holder, t0, viem.toHex(31337n)]);
  const dealt = await c.readContract({ address: t0, abi: token.abi, functionName: "balanceOf", args: [holder] });
  await raw(c, "anvil_setERC20Allowance", [holder, account.address, t0, viem.toHex(555n)]);
  const allowed = await c.readContract({
    address: t0, abi: token.abi, functionName: "allowance", args: [holder, account.address],
  });
  // eth_call with a state override: the holder's balance slot overridden.
  const slot = viem.keccak256(viem.encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [holder, 0n]));
  const { data } = await c.call({
    to: t0,
    data: viem.encodeFunctionData({ abi: token.abi, functionName: "balanceOf", args: [holder] }),
    stateOverride: [{ address: t0, stateDiff: [{ slot, value: viem.pad("0x2a") }] }],
  });
  // evm_mine_detailed: a reverting transaction's output.
  await c.setAutomine(false);
  const payee = chain.payee;
  await c.writeContract({ address: t0, abi: token.abi, functionName: "transfer", args: [payee, 10n ** 30n], gas: 100000n });
  const detailed = await raw(c, "evm_mine_detailed");
  await c.setAutomine(true);
  const mined = detailed[0].transactions[0];
  // Clock controls: an interval stamps each block after its parent,
  // whatever the clock says, until it is removed.
  await c.setBlockTimestampInterval({ interval: 3600 });
  const before = (await c.getBlock()).timestamp;
  await c.mine({ blocks: 2 });
  const stepped = (await c.getBlock()).timestamp - before;
  const removed = await raw(c, "anvil_removeBlockTimestampInterval");
  const removedAgain = await raw(c, "anvil_removeBlockTimestampInterval");
  await c.setLoggingEnabled(true);
  // A dev chain's blocks hold no ommers.
  const at = viem.toHex(block.number);
  const uncles = [
    await raw(c, "eth_getUncleCountByBlockNumber", [at]),
    await raw(c, "eth_getUncleCountByBlockHash", [block.hash]),
    await raw(c, "eth_getUncleByBlockNumberAndIndex", [at, "0x0"]),
    await raw(c, "eth_getUncleByBlockHashAndIndex", [block.hash, "0x0"]),
  ];
  // Snapshot ids as anvil gives them out: from 0, one more each time, a
  // revert using up the later ones.
  const snaps = [await raw(c, "evm_snapshot"), await raw(c, "evm_snapshot")];
  const reverted = await raw(c, "evm_revert", [snaps[0]]);
  snaps.push(await raw(c, "evm_snapshot"), reverted, await raw(c, "evm_revert", [snaps[1]]));
  return {
    snaps,
    uncles,
    stepped,
    removed,
    removedAgain,
    gasLimit: block.gasLimit,
    infoKeys: Object.keys(info).sort(),
    envKeys: Object.keys(info.environment).sort(),
    infoHead: BigInt(info.currentBlockNumber) === block.number,
    chainId: meta.chainId,
    metaHead: meta.latestBlockNumber === Number(block.number),
    minGas,
    dealt,
    allowed,
    overridden: BigInt(data),
    detailedCount: detailed.length,
    output: mined.output,
  };
}

async function traces(c, chain) {
  const swapTraces = await raw(c, "trace_transaction", [chain.swap.hash]);
  const block = await raw(c, "trace_block", [viem.toHex(chain.swap.receipt.blockNumber)]);
  const filtered = await raw(c, "trace_filter", [{
    fromBlock: viem.toHex(1n), toBlock: viem.toHex(chain.swap.receipt.blockNumber), toAddress: [chain.p.address],
  }]);
  const replayed = await raw(c, "trace_replayBlockTransactions", [viem.toHex(chain.swap.receipt.blockNumber), ["trace"]]);
  const deploy = await raw(c, "trace_transaction", [chain.t0.hash]);
  const unknown = await raw(c, "trace_transaction", [viem.pad("0x1234")]);
  return {
    swap: swapTraces.map(shape),
    positions: swapTraces.map((t) => [t.blockNumber, t.transactionPosition, t.transactionHash === chain.swap.hash]),
    block: block.map(shape),
    filtered: filtered.map(shape),
    replayed: replayed.map((r) => [r.transactionHash === chain.swap.hash, r.output, r.trace.map(shape)]),
    deploy: deploy.map((t) => [t.type, t.action.from, t.result.address]),
    unknown,
  };
}

async function otterscan(c, chain) {
  const me = account.address;
  const swapBlock = chain.swap.receipt.blockNumber;
  const details = await raw(c, "ots_getBlockDetails", [Number(swapBlock)]);
  const byHash = await raw(c, "ots_getBlockDetailsByHash", [chain.swap.receipt.blockHash]);
  const receipt = await c.getTransactionReceipt({ hash: chain.swap.hash });
  check(BigInt(details.totalFees) === receipt.gasUsed * receipt.effectiveGasPrice, "totalFees is gas used times price");
  const txs = await raw(c, "ots_getBlockTransactions", [Number(swapBlock), 0, 25]);
  const header = await raw(c, "erigon_getHeaderByNumber", [Number(swapBlock)]);
  const before = await raw(c, "ots_searchTransactionsBefore", [chain.p.address, 0, 25]);
  const paged = await raw(c, "ots_searchTransactionsBefore", [me, 0, 2]);
  const after = await raw(c, "ots_searchTransactionsAfter", [me, 0, 2]);
  const nonceOf = (txs) => txs.map((t) => Number(t.nonce));
  return {
    level: await raw(c, "ots_getApiLevel"),
    hasCode: [await raw(c, "ots_hasCode", [chain.t0.address, "latest"]), await raw(c, "ots_hasCode", [me, "latest"])],
    details: [details.block.transactionCount, details.issuance, details.block.hash === chain.swap.receipt.blockHash],
    byHash: byHash.block.number === details.block.number,
    blockTxs: [txs.fullblock.transactionCount, txs.fullblock.transactions.map((t) => t.input), txs.receipts.map((r) => [r.status, typeof r.timestamp])],
    header: header.hash === chain.swap.receipt.blockHash,
    internalDeploy: await raw(c, "ots_getInternalOperations", [chain.t0.hash]),
    internalPay: await raw(c, "ots_getInternalOperations", [chain.payHash]),
    error: await raw(c, "ots_getTransactionError", [chain.bad.hash]),
    noError: await raw(c, "ots_getTransactionError", [chain.swap.hash]),
    trace: await raw(c, "ots_traceTransaction", [chain.swap.hash]),
    before: [nonceOf(before.txs), before.firstPage, before.lastPage, before.receipts.length],
    paged: [nonceOf(paged.txs), paged.firstPage, paged.lastPage],
    after: [nonceOf(after.txs), after.firstPage, after.lastPage],
    byNonce: (await raw(c, "ots_getTransactionBySenderAndNonce", [me, 6])) === chain.swap.hash,
    creator: await raw(c, "ots_getContractCreator", [chain.p.address]).then((r) => [r.hash === chain.p.hash, lower(r.creator)]),
  };
}

async function main() {
  const lanes = node(lanesUrl);
  const anvil = node(anvilUrl);
  check((await raw(lanes, "web3_clientVersion")).startsWith("anvil/lanes"), "lanes answers as an anvil-compatible node");
  const onLanes = await build(lanes);
  const onAnvil = await build(anvil);
  same(onLanes.p.address, onAnvil.p.address, "the same deployments on both");

  await stateFiles(lanes, anvil);

  const controls = [await chainControls(lanes, onLanes), await chainControls(anvil, onAnvil)];
  for (const k of Object.keys(controls[1])) same(controls[0][k], controls[1][k], `chain control ${k} as anvil`);
  same(controls[0].gasLimit, 25000000n, "setBlockGasLimit sets the next block's");
  same(controls[0].dealt, 31337n, "dealERC20 sets the balance");
  same(controls[0].overridden, 42n, "eth_call applies the state override");
  same(controls[0].uncles, ["0x0", "0x0", null, null], "no ommers in a dev block");

  const t = [await traces(lanes, onLanes), await traces(anvil, onAnvil)];
  for (const k of Object.keys(t[1])) same(t[0][k], t[1][k], `trace ${k} as anvil`);
  check(t[0].swap.length >= 4, "the swap's trace has its inner calls");

  // What anvil 1.7.1 does not serve, on lanes alone.
  const replay = await raw(lanes, "trace_replayTransaction", [onLanes.swap.hash, ["trace", "stateDiff"]]);
  same(replay.trace.map(shape), t[0].swap, "trace_replayTransaction: the same calls");
  check(replay.stateDiff[lower(onLanes.p.address)] !== undefined, "trace_replayTransaction: the pair's state changed");
  const call = await raw(lanes, "trace_call", [{
    from: account.address, to: onLanes.t0.address,
    data: viem.encodeFunctionData({ abi: token.abi, functionName: "transfer", args: [onLanes.payee, 1n] }),
  }, ["trace"], "latest"]);
  check(call.trace.length === 1 && call.trace[0].action.to === lower(onLanes.t0.address), "trace_call traces the call");

  const o = [await otterscan(lanes, onLanes), await otterscan(anvil, onAnvil)];
  for (const k of Object.keys(o[1])) same(o[0][k], o[1][k], `otterscan ${k} as anvil`);
  same(o[0].level, 8, "ots API level 8");
  check(o[0].error.startsWith("0xe450d38c"), "ots_getTransactionError: ERC20InsufficientBalance");
  console.log("anvil surface: ok");
}

run(main);
