// viem's test client (npm, `createTestClient({ mode: "anvil" })`) against a
// lanes-validator --dev node, as a test suite written for anvil drives it:
// time travel (increaseTime, setNextBlockTimestamp), mine with a block count
// and an interval, setCoinbase, automine toggled off and a transaction mined
// by `mine`, setBalance / setNonce / setCode / setStorageAt, impersonation
// (of a contract too), increaseTime after a burst of blocks, EIP-7966 sync
// sends, the txpool methods and the pool drops.
// Every check throws on failure; the last line printed is
// "viem test client: ok", followed by a JSON line of what the Rust test
// checks after a restart.
//
// Usage: node viem_test_client.cjs HTTP_URL FUNDED_PRIVATE_KEY
"use strict";
const { client: load, check, run } = require("./lib.cjs");
const viem = load("viem");
const { privateKeyToAccount } = load("viem/_cjs/accounts/index.js");
const { foundry } = load("viem/_cjs/chains/index.js");

const [url, key] = process.argv.slice(2);

async function main() {
  const account = privateKeyToAccount(key);
  const client = viem
    .createTestClient({ chain: foundry, mode: "anvil", transport: viem.http(url), account })
    .extend(viem.publicActions)
    .extend(viem.walletActions);
  check((await client.getAutomine()) === true, "automine is on");

  // increaseTime: the next block is an hour later.
  const before = await client.getBlock();
  await client.increaseTime({ seconds: 3600 });
  await client.mine({ blocks: 1 });
  const later = await client.getBlock();
  check(later.number === before.number + 1n, "mine({ blocks: 1 }) seals one block");
  check(later.timestamp >= before.timestamp + 3600n, `increaseTime: ${later.timestamp - before.timestamp} s later`);

  // setNextBlockTimestamp: exactly that timestamp, and time goes on from it.
  const target = later.timestamp + 100000n;
  await client.setNextBlockTimestamp({ timestamp: target });
  await client.mine({ blocks: 1 });
  check((await client.getBlock()).timestamp === target, "setNextBlockTimestamp stamps the next block");
  await client.mine({ blocks: 1 });
  const after = await client.getBlock();
  check(after.timestamp > target && after.timestamp < target + 5n, "time goes on from it");

  // mine with a count and an interval.
  await client.mine({ blocks: 3, interval: 12 });
  const third = await client.getBlock();
  check(third.number === after.number + 3n, "mine({ blocks: 3 }) seals three blocks");
  const second = await client.getBlock({ blockNumber: third.number - 1n });
  check(third.timestamp - second.timestamp === 12n, "12 s apart");

  // setCoinbase: the next blocks pay their fees there.
  const coinbase = "0x00000000000000000000000000000000c0ffee00";
  await client.setCoinbase({ address: coinbase });
  const hash = await client.sendTransaction({ to: "0x000000000000000000000000000000000000dEaD", value: 1n });
  const receipt = await client.waitForTransactionReceipt({ hash });
  const mined = await client.getBlock({ blockNumber: receipt.blockNumber });
  check(mined.miner.toLowerCase() === coinbase, "the block names the new coinbase");
  check((await client.getBalance({ address: coinbase })) > 0n, "the coinbase was paid the tip");

  // setNextBlockBaseFeePerGas: the next block has it, and (lanes' base fee
  // being its parent's) so do the later ones.
  await client.setNextBlockBaseFeePerGas({ baseFeePerGas: 3000000000n });
  await client.mine({ blocks: 1 });
  check((await client.getBlock()).baseFeePerGas === 3000000000n, "setNextBlockBaseFeePerGas");
  const priced = await client.sendTransaction({ to: "0x000000000000000000000000000000000000dEaD", value: 3n });
  check((await client.waitForTransactionReceipt({ hash: priced })).effectiveGasPrice >= 3000000000n,
    "a transaction pays the new base fee");

  // Automine off: the transaction waits for mine.
  await client.setAutomine(false);
  check((await client.getAutomine()) === false, "automine is off");
  const waiting = await client.sendTransaction({ to: "0x000000000000000000000000000000000000dEaD", value: 2n });
  await new Promise((r) => setTimeout(r, 300));
  const pending = await client.getTransactionReceipt({ hash: waiting }).catch(() => null);
  check(pending === null, "no receipt before mine");
  await client.mine({ blocks: 1 });
  const done = await client.getTransactionReceipt({ hash: waiting });
  check(done.status === "success", "mine includes the waiting transaction");
  await client.setAutomine(true);

  // State controls, each in a block of its own.
  const someone = "0x00000000000000000000000000000000000b0b00";
  await client.setBalance({ address: someone, value: 123456789n });
  check((await client.getBalance({ address: someone })) === 123456789n, "setBalance");
  await client.setNonce({ address: someone, nonce: 42 });
  check((await client.getTransactionCount({ address: someone })) === 42, "setNonce");
  check((await client.getBalance({ address: someone })) === 123456789n, "setNonce keeps the balance");
  // PUSH1 0x2a PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN: returns 42.
  const code = "0x602a60005260206000f3";
  await client.setCode({ address: someone, bytecode: code });
  check((await client.getCode({ address: someone })) === code, "setCode");
  const out = await client.call({ to: someone, data: "0x" });
  check(BigInt(out.data) === 42n, "a call runs the code set");
  const word = "0x" + "00".repeat(31) + "99";
  await client.setStorageAt({ address: someone, index: 7, value: word });
  check((await client.getStorageAt({ address: someone, slot: "0x7" })) === word, "setStorageAt");
  // A funded account pays with the balance set for it.
  const rich = privateKeyToAccount("0x" + "77".repeat(32));
  await client.setBalance({ address: rich.address, value: 10n ** 18n });
  const paid = await client.sendTransaction({ account: rich, to: someone, value: 5n });
  check((await client.waitForTransactionReceipt({ hash: paid })).status === "success", "a transaction spends a set balance");

  // Impersonation: send as an address whose key nobody holds.
  const whale = "0x00000000000000000000000000000000000a11ce";
  await client.setBalance({ address: whale, value: 10n ** 18n });
  await client.impersonateAccount({ address: whale });
  const asWhale = await client.sendTransaction({ account: whale, to: someone, value: 7n });
  const whaleReceipt = await client.waitForTransactionReceipt({ hash: asWhale });
  check(whaleReceipt.status === "success" && whaleReceipt.from.toLowerCase() === whale,
    "a transaction sent as an impersonated address");
  const seenTx = await client.getTransaction({ hash: asWhale });
  check(seenTx.hash === asWhale && seenTx.from.toLowerCase() === whale, "served with its hash and sender");
  await client.stopImpersonatingAccount({ address: whale });
  const refused = await client
    .sendTransaction({ account: whale, to: someone, value: 1n })
    .then(() => false, () => true);
  check(refused, "refused once impersonation stops");

  // Impersonating a contract (a multisig, a treasury): EIP-3607 does not
  // refuse an impersonated sender with code, as on anvil.
  const treasury = "0x0000000000000000000000000000000000da0da0";
  await client.setCode({ address: treasury, bytecode: code });
  await client.setBalance({ address: treasury, value: 10n ** 18n });
  await client.impersonateAccount({ address: treasury });
  const fromContract = await client.sendTransaction({ account: treasury, to: someone, value: 9n });
  const contractReceipt = await client.waitForTransactionReceipt({ hash: fromContract, timeout: 10000 });
  check(contractReceipt.status === "success" && contractReceipt.from.toLowerCase() === treasury,
    "a transaction sent as an impersonated contract is included");
  await client.stopImpersonatingAccount({ address: treasury });

  // increaseTime after a quick burst of blocks (each its parent + 1, so the
  // chain runs ahead of the wall clock): the next block is at least the
  // latest + the increase.
  await client.mine({ blocks: 3 });
  const burst = await client.getBlock();
  await client.increaseTime({ seconds: 86400 });
  await client.mine({ blocks: 1 });
  const jumped = await client.getBlock();
  check(jumped.timestamp >= burst.timestamp + 86400n,
    `increaseTime after a burst: ${jumped.timestamp - burst.timestamp} s after the latest block`);

  // EIP-7966 sync sends: the receipt in one call.
  const synced = await client.sendTransactionSync({ account: rich, to: someone, value: 11n });
  check(synced.status === "success" && synced.from.toLowerCase() === rich.address.toLowerCase(),
    "sendTransactionSync (eth_sendRawTransactionSync) answers with the receipt");
  const nodeSigned = await client.request({
    method: "eth_sendTransactionSync",
    params: [{ from: account.address, to: someone, value: "0x1" }],
  });
  check(nodeSigned.status === "0x1" && BigInt(nodeSigned.blockNumber) > 0n, "eth_sendTransactionSync");
  // Nothing mines it: past its timeout, error 4 with the hash, and it waits on.
  await client.setAutomine(false);
  const request = await client.prepareTransactionRequest({ account: rich, to: someone, value: 12n });
  const raw = await rich.signTransaction(request);
  const timedOut = await client
    .request({ method: "eth_sendRawTransactionSync", params: [raw, "0x12c"] })
    .then(() => null, (e) => e.walk((x) => x.code === 4));
  check(timedOut !== null && timedOut.code === 4, "past its timeout: error 4");
  check(timedOut.data === viem.keccak256(raw), `error 4 carries the hash: ${timedOut.data}`);
  check((await client.request({ method: "lanes_transactionStatus", params: [timedOut.data] })).status === "pending",
    "the timed-out transaction is still pending");
  await client.mine({ blocks: 1 });
  check((await client.getTransactionReceipt({ hash: timedOut.data })).status === "success", "and mined later");

  // The pool: pending (next in line) and queued (behind a gap), and drops.
  const base = await client.getTransactionCount({ address: rich.address, blockTag: "pending" });
  const next = await client.sendTransaction({ account: rich, to: someone, value: 13n, nonce: base });
  const gapped = await client.sendTransaction({ account: rich, to: someone, value: 14n, nonce: base + 2 });
  const poolStatus = await client.getTxpoolStatus();
  check(poolStatus.pending === 1 && poolStatus.queued === 1, `txpool_status: ${JSON.stringify(poolStatus)}`);
  const content = await client.getTxpoolContent();
  const mine = (side) => content[side][rich.address] ?? content[side][rich.address.toLowerCase()];
  check(mine("pending")[String(base)].hash === next && mine("queued")[String(base + 2)].hash === gapped,
    "txpool_content files them by sender and nonce");
  const inspect = await client.inspectTxpool();
  check(Object.keys(inspect.pending).length === 1, "txpool_inspect");
  await client.dropTransaction({ hash: next });
  check((await client.getTxpoolStatus()).pending === 0, "anvil_dropTransaction removes it");
  const droppedStatus = await client.request({ method: "lanes_transactionStatus", params: [next] });
  check(droppedStatus.status === "dropped" && droppedStatus.reason.includes("anvil_dropTransaction"),
    `and says why: ${JSON.stringify(droppedStatus)}`);
  check((await client.request({ method: "hardhat_dropTransaction", params: [next] })) === false,
    "hardhat_dropTransaction: nothing left to drop");
  await client.request({ method: "anvil_removePoolTransactions", params: [rich.address] });
  const emptied = await client.getTxpoolStatus();
  check(emptied.pending === 0 && emptied.queued === 0, "anvil_removePoolTransactions empties the sender's");
  await client.sendTransaction({ account: rich, to: someone, value: 15n, nonce: base });
  await client.request({ method: "anvil_dropAllTransactions", params: [] });
  check((await client.getTxpoolStatus()).pending === 0, "anvil_dropAllTransactions");
  await client.setAutomine(true);

  // Snapshots: a revert drops what came after, state and blocks alike.
  const snap = await client.snapshot();
  const atSnap = await client.getBlockNumber();
  const held = await client.getBalance({ address: someone });
  const dropped = await client.sendTransaction({ to: someone, value: 1000n });
  await client.waitForTransactionReceipt({ hash: dropped });
  check((await client.getBalance({ address: someone })) === held + 1000n, "a transfer after the snapshot");
  check((await client.revert({ id: snap })) === undefined, "revert");
  check((await client.getBlockNumber()) === atSnap, "revert drops the later blocks");
  check((await client.getBalance({ address: someone })) === held, "and their state");
  const gone = await client.getTransactionReceipt({ hash: dropped }).catch(() => null);
  check(gone === null, "and their receipts");
  const reused = await client.request({ method: "evm_revert", params: [snap] });
  check(reused === false, "a snapshot id is used once");
  // The chain goes on from the snapshot.
  const onward = await client.sendTransaction({ to: someone, value: 1n });
  const onwardReceipt = await client.waitForTransactionReceipt({ hash: onward });
  check(onwardReceipt.blockNumber === atSnap + 1n, "the next block follows the snapshot's");

  console.log("viem test client: ok");
  console.log(JSON.stringify({
    coinbase, target: target.toString(), minedAt: mined.number.toString(), someone, code, word,
    asWhale, whale, head: (atSnap + 1n).toString(), dropped,
  }));
}

run(main);
