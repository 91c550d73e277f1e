// EIP-7702 with ethers v6 (from npm) against a lanes-validator --dev node:
// an account delegates to the Board contract (contracts/Board.sol) by a
// type-4 transaction, then calls run Board's code in the account's own
// storage. Two ways a dapp does it: a node account sponsors the delegation
// of a fresh key through eth_sendTransaction with an authorizationList, and
// a funded key delegates itself by a raw type-4 transaction. Every check
// throws on failure; the last line printed is "ethers 7702: ok".
//
// Usage: node ethers_7702.cjs HTTP_URL BOARD_ARTIFACT_JSON FUNDED_PRIVATE_KEY
"use strict";
const fs = require("fs");
const { client, check, run } = require("./lib.cjs");
const { ethers } = client("ethers");

const [url, artifactPath, fundedKey] = process.argv.slice(2);

async function main() {
  const provider = new ethers.JsonRpcProvider(url, undefined, {
    cacheTimeout: -1,
    pollingInterval: 50,
  });
  const sponsor = await provider.getSigner(0);
  const artifact = JSON.parse(fs.readFileSync(artifactPath, "utf8"));
  const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, sponsor);
  const board = await factory.deploy(7n);
  await board.waitForDeployment();
  const target = await board.getAddress();
  const designator = (a) => "0xef0100" + a.slice(2).toLowerCase();
  const slot = async (at, n) => BigInt(await provider.getStorage(at, n));

  // 1. Sponsored: a fresh, unfunded key signs the authorization; the node's
  //    account sends it (eth_sendTransaction with an authorizationList) and
  //    in the same transaction calls bump() on the now-delegated account.
  const fresh = ethers.Wallet.createRandom().connect(provider);
  const auth = await fresh.authorize({ address: target, nonce: 0n, chainId: 31337n });
  const bump = board.interface.encodeFunctionData("bump");
  const tx = await sponsor.sendTransaction({
    type: 4,
    to: fresh.address,
    data: bump,
    authorizationList: [auth],
  });
  const receipt = await tx.wait();
  check(receipt.status === 1, `sponsored type-4 transaction succeeds (gas used ${receipt.gasUsed})`);
  const seen = await provider.getTransaction(tx.hash);
  check(seen.type === 4 && seen.authorizationList.length === 1, "served back as type 4 with its authorization");
  check((await provider.getCode(fresh.address)) === designator(target), "the account's code is 0xef0100 || Board");
  check((await provider.getTransactionCount(fresh.address)) === 1, "the authority's nonce moved to 1");
  check((await slot(fresh.address, 1)) === 1n, "bump() ran in the account's own storage");
  check((await slot(target, 1)) === 0n, "Board's own storage is untouched");

  // A call through the delegated account, as to any contract.
  const delegated = new ethers.Contract(fresh.address, artifact.abi, sponsor);
  await (await delegated.bump()).wait();
  check((await delegated.counter()) === 2n, "a second call through the account counts 2");
  await (await delegated.post(5n)).wait();
  const me = await sponsor.getAddress();
  check((await delegated.posts(me)) === 5n, "post() in the account's storage reads its own fee slot (0)");

  // 2. Self-sponsored: a funded key delegates itself by a raw type-4
  //    transaction (the authorization's nonce is one past the transaction's).
  const self = new ethers.Wallet(fundedKey, provider);
  const nonce = await self.getNonce();
  const selfAuth = await self.authorize({ address: target, nonce: nonce + 1 });
  const own = await self.sendTransaction({
    type: 4,
    to: self.address,
    data: bump,
    authorizationList: [selfAuth],
  });
  check((await own.wait()).status === 1, "self-sponsored raw type-4 transaction succeeds");
  check((await provider.getCode(self.address)) === designator(target), "the funded key is delegated");
  check((await provider.getTransactionCount(self.address)) === nonce + 2, "its nonce moved by two");
  check((await slot(self.address, 1)) === 1n, "bump() ran in the funded key's storage");

  // Clearing: delegating to the zero address restores a plain account.
  const clear = await self.authorize({ address: ethers.ZeroAddress, nonce: nonce + 3 });
  const cleared = await self.sendTransaction({
    type: 4,
    to: self.address,
    authorizationList: [clear],
  });
  check((await cleared.wait()).status === 1, "clearing transaction succeeds");
  check((await provider.getCode(self.address)) === "0x", "delegation to the zero address clears the code");
  console.log("ethers 7702: ok");
}

run(main);
