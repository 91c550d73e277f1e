// hardhat-network-helpers 1.x (npm) against a lanes-validator --dev node, as
// a hardhat test suite uses them: time.increase, mine, setBalance,
// impersonateAccount, a transaction sent as the impersonated address, and
// loadFixture (evm_snapshot / evm_revert).
// The helpers only drive a node whose web3_clientVersion starts with
// "hardhatnetwork", "zksync" or "anvil": lanes --dev answers "anvil/lanes-v…".
// Every check throws on failure; the last line printed is
// "hardhat helpers: ok".
//
// Usage (from a folder where hardhat and the helpers are installed, holding
// this file and hardhat.config.cjs):
//   LANES_URL=http://127.0.0.1:8545 npx hardhat run --no-compile helpers.cjs
"use strict";
const helpers = require("@nomicfoundation/hardhat-network-helpers");
const hre = require("hardhat");

function check(cond, what) {
  if (!cond) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

async function main() {
  const provider = hre.network.provider;
  const start = await helpers.time.latest();
  const after = await helpers.time.increase(3600);
  check(after === start + 3600, `time.increase(3600): ${start} -> ${after}`);

  const first = await helpers.time.latestBlock();
  await helpers.mine(5);
  check((await helpers.time.latestBlock()) === first + 5, "mine(5) seals five blocks");

  const someone = "0x00000000000000000000000000000000000c0de5";
  await helpers.setBalance(someone, 10n ** 18n);
  const balance = await provider.request({ method: "eth_getBalance", params: [someone, "latest"] });
  check(BigInt(balance) === 10n ** 18n, "setBalance");

  await helpers.impersonateAccount(someone);
  const hash = await provider.request({
    method: "eth_sendTransaction",
    params: [{ from: someone, to: "0x000000000000000000000000000000000000dEaD", value: "0x1" }],
  });
  const receipt = await provider.request({ method: "eth_getTransactionReceipt", params: [hash] });
  check(receipt && receipt.status === "0x1" && receipt.from === someone, "sent as the impersonated address");
  await helpers.stopImpersonatingAccount(someone);

  // loadFixture: the first call runs the fixture and snapshots; each later
  // call reverts to that snapshot.
  const fixtureAccount = "0x00000000000000000000000000000000000f1070";
  async function deployed() {
    await helpers.setBalance(fixtureAccount, 5n);
    return { account: fixtureAccount };
  }
  const balanceOf = async (a) =>
    BigInt(await provider.request({ method: "eth_getBalance", params: [a, "latest"] }));
  const { account } = await helpers.loadFixture(deployed);
  check((await balanceOf(account)) === 5n, "loadFixture runs the fixture");
  await helpers.setBalance(account, 9n);
  const head = await helpers.time.latestBlock();
  await helpers.loadFixture(deployed);
  check((await balanceOf(account)) === 5n, "loadFixture again reverts to the fixture's state");
  check((await helpers.time.latestBlock()) < head, "and drops the blocks after it");
  console.log("hardhat helpers: ok");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
