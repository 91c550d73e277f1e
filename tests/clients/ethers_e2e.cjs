// End-to-end run of ethers v6 (from npm) against a lanes-validator --dev node:
// the node's own signer (eth_sendTransaction) deploys the ERC-20 compiled from
// contracts/Token.sol and sends a token transfer with ethers' own gas
// estimate, as deploy scripts do; contract.on receives an event over HTTP
// (filters), and the node's accounts sign messages and typed data. Run by tests/it/validator.rs with
// LANES_NODE_CLIENTS naming the folder npm installed ethers into; every check
// throws on failure, and the last line printed is "ethers e2e: ok".
//
// Usage: node ethers_e2e.cjs HTTP_URL TOKEN_ARTIFACT_JSON
"use strict";
const fs = require("fs");
const { client, check, run } = require("./lib.cjs");
const { ethers } = client("ethers");

const [url, artifactPath] = process.argv.slice(2);

async function main() {
  // No call cache (two sends from one signer would reuse a stale nonce) and
  // a short poll, as dev-node test suites configure ethers.
  const provider = new ethers.JsonRpcProvider(url, undefined, {
    cacheTimeout: -1,
    pollingInterval: 50,
  });
  const signer = await provider.getSigner(0);
  check((await provider.getNetwork()).chainId === 31337n, "chain id 31337");

  const artifact = JSON.parse(fs.readFileSync(artifactPath, "utf8"));
  const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, signer);
  const token = await factory.deploy("Ethers Token", "ETK", 10n ** 24n);
  await token.waitForDeployment();
  const address = await token.getAddress();
  check((await provider.getCode(address)).length > 2, "deployed through the node's signer");

  // The most common deploy-script pattern: the node signs, ethers estimates.
  const to = ethers.Wallet.createRandom().address;
  const tx = await token.transfer(to, 3n);
  const receipt = await tx.wait();
  check(receipt.status === 1, `token transfer succeeds (gas limit ${tx.gasLimit}, used ${receipt.gasUsed})`);
  check(receipt.gasUsed <= tx.gasLimit, "within the gas ethers estimated");
  const sent = await provider.getTransaction(tx.hash);
  check(sent.accessList === null || sent.accessList.length === 0, "no access list was added");
  check((await token.balanceOf(to)) === 3n, "the receiver holds 3");

  // The block's access list (EIP-7928): the token's two balance slots
  // changed by transaction 0 (index 1) to what the state holds after it,
  // and the sender's nonce; by number, by hash and raw alike.
  const at = ethers.toQuantity(receipt.blockNumber);
  const bal = await provider.send("eth_getBlockAccessList", [at]);
  const entry = bal.find((a) => a.address.toLowerCase() === address.toLowerCase());
  check(entry && entry.storageChanges.length === 2, `the token's two balance slots changed: ${JSON.stringify(entry)}`);
  for (const slot of entry.storageChanges) {
    const after = await provider.getStorage(address, slot.key, receipt.blockNumber);
    check(slot.changes.length === 1 && slot.changes[0].index === "0x1", "written by transaction 0, index 1");
    check(BigInt(slot.changes[0].value) === BigInt(after), `slot ${slot.key} holds its post-value`);
  }
  const sender = (await signer.getAddress()).toLowerCase();
  const mine = bal.find((a) => a.address.toLowerCase() === sender);
  const nonce = await provider.getTransactionCount(sender, receipt.blockNumber);
  check(BigInt(mine.nonceChanges[0].value) === BigInt(nonce), "the sender's nonce after it");
  const byHash = await provider.send("eth_getBlockAccessListByBlockHash", [receipt.blockHash]);
  check(JSON.stringify(byHash) === JSON.stringify(bal), "by hash as by number");
  const raw = await provider.send("eth_getBlockAccessListRaw", [at]);
  check(/^0x[0-9a-f]+$/.test(raw) && raw.length > 100, "the raw list is RLP");
  check((await provider.send("eth_getBlockAccessList", ["0x0"])) === null, "block 0 has none");

  // Under automine, a send answers once its block is committed: ethers'
  // wait() finds the receipt on its first look, even with its default
  // 4 s polling.
  const plain = new ethers.JsonRpcProvider(url, undefined, { cacheTimeout: -1 });
  const plainSigner = await plain.getSigner(1);
  const started = Date.now();
  const quick = await plainSigner.sendTransaction({ to, value: 1n });
  const quickReceipt = await quick.wait();
  const took = Date.now() - started;
  check(quickReceipt.status === 1 && took < 2000, `send and wait() took ${took} ms`);
  plain.destroy();

  // A plain value transfer from the node's account.
  const friend = ethers.Wallet.createRandom().address;
  const pay = await signer.sendTransaction({ to: friend, value: 12345n });
  check((await pay.wait()).status === 1, "value transfer succeeds");
  check((await provider.getBalance(friend)) === 12345n, "the friend holds 12345 wei");

  // contract.on over HTTP: ethers installs a filter (eth_newFilter) and
  // polls eth_getFilterChanges; the Transfer event arrives.
  const watcher = ethers.Wallet.createRandom().address;
  // The filter covers blocks after its install: the transfer waits for the
  // node's answer to ethers' eth_newFilter (seen through its debug events).
  const filterIds = new Set();
  let onDebug;
  const installed = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no eth_newFilter answered in 10 s")), 10000);
    onDebug = (e) => {
      if (e.action === "sendRpcPayload") {
        for (const p of [].concat(e.payload)) if (p.method === "eth_newFilter") filterIds.add(p.id);
      } else if (e.action === "receiveRpcResult" && [].concat(e.result).some((r) => filterIds.has(r.id) && r.result)) {
        clearTimeout(timer);
        resolve();
      }
    };
  });
  await provider.on("debug", onDebug);
  const heard = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no Transfer event in 10 s")), 10000);
    token.on("Transfer", (from, to, value, event) => {
      if (to !== watcher) return;
      clearTimeout(timer);
      resolve({ from, value, event });
    });
  });
  await installed;
  await provider.off("debug", onDebug);
  const watched = await token.transfer(watcher, 77n);
  await watched.wait();
  const { from, value, event } = await heard;
  check(from === (await signer.getAddress()) && value === 77n, "contract.on receives the Transfer event");
  check(event.log.transactionHash === watched.hash, "with the transfer's log");
  await token.removeAllListeners();

  // The node's accounts sign messages and EIP-712 typed data
  // (personal_sign, eth_signTypedData_v4); the signatures recover to them.
  const me = await signer.getAddress();
  const message = "lanes signs this";
  const signature = await signer.signMessage(message);
  check(ethers.verifyMessage(message, signature) === me, "signMessage recovers to the account");
  const domain = { name: "Lanes Mail", version: "1", chainId: 31337, verifyingContract: address };
  const types = {
    Person: [{ name: "name", type: "string" }, { name: "wallet", type: "address" }],
    Mail: [
      { name: "from", type: "Person" },
      { name: "to", type: "Person" },
      { name: "contents", type: "string" },
      { name: "amounts", type: "uint256[]" },
    ],
  };
  const mail = {
    from: { name: "Cow", wallet: me },
    to: { name: "Bob", wallet: watcher },
    contents: "Hello, Bob!",
    amounts: [1n, 2n ** 200n],
  };
  const typed = await signer.signTypedData(domain, types, mail);
  check(ethers.verifyTypedData(domain, types, mail, typed) === me, "signTypedData recovers to the account");
  const stranger = ethers.Wallet.createRandom().address;
  try {
    await provider.send("personal_sign", [ethers.hexlify(ethers.toUtf8Bytes("x")), stranger]);
    throw new Error("signing for an account the node does not hold must fail");
  } catch (e) {
    check(/not an unlocked account/.test(e.message), "signing for an unknown account is refused");
  }
  console.log("ethers e2e: ok");
}

run(main);
