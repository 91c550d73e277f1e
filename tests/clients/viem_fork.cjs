// viem's test client (npm) against a node forking an upstream (lanes-validator
// --dev --fork-url or anvil --fork-url), as a fork test written for anvil
// drives it: reset to the fork block, an impersonated holder's token
// transfer, reset to an earlier block of the same upstream, and reset()
// (the upstream's latest block). The state file is fork.py setup's.
// Every check throws on failure; the last line printed is "viem fork: ok".
//
// Usage: node viem_fork.cjs FORK_URL UPSTREAM_URL STATE_JSON
"use strict";
const fs = require("fs");
const { client: load, check, run } = require("./lib.cjs");
const viem = load("viem");
const { foundry } = load("viem/_cjs/chains/index.js");

const [url, upstreamUrl, stateFile] = process.argv.slice(2);
const abi = viem.parseAbi([
  "function balanceOf(address) view returns (uint256)",
  "function transfer(address to, uint256 amount) returns (bool)",
]);

async function main() {
  const s = JSON.parse(fs.readFileSync(stateFile, "utf8"));
  const n = BigInt(s.forkBlock);
  const client = viem
    .createTestClient({ chain: foundry, mode: "anvil", transport: viem.http(url) })
    .extend(viem.publicActions)
    .extend(viem.walletActions);
  const upstream = viem.createPublicClient({ chain: foundry, transport: viem.http(upstreamUrl) });
  const balance = (who, blockNumber) =>
    (blockNumber === undefined ? client : upstream).readContract({
      address: s.tokenA,
      abi,
      functionName: "balanceOf",
      args: [who],
      ...(blockNumber === undefined ? {} : { blockNumber }),
    });
  const to = "0x00000000000000000000000000000000000c0c00";
  // getBlockNumber() answers from viem's cache for 4 s unless told not to.

  await client.reset({ jsonRpcUrl: upstreamUrl, blockNumber: n });
  check((await client.getBlockNumber({ cacheTime: 0 })) === n, "reset({ jsonRpcUrl, blockNumber }) forks that block");
  const held = await balance(s.holder);
  check(held === (await balance(s.holder, n)) && held > 0n, "the holder's tokens as the upstream's");

  await client.impersonateAccount({ address: s.holder });
  const hash = await client.writeContract({
    account: s.holder,
    address: s.tokenA,
    abi,
    functionName: "transfer",
    args: [to, 10n ** 18n],
  });
  const receipt = await client.waitForTransactionReceipt({ hash });
  check(receipt.status === "success" && receipt.blockNumber === n + 1n, "an impersonated holder's transfer");
  check((await balance(to)) === 10n ** 18n, "the recipient's tokens");
  await client.stopImpersonatingAccount({ address: s.holder });

  const earlier = BigInt(s.transferBlock) - 1n;
  await client.reset({ blockNumber: earlier });
  check((await client.getBlockNumber({ cacheTime: 0 })) === earlier, "reset({ blockNumber }) forks an earlier block");
  check((await balance(s.holder)) === 0n && (await balance(to)) === 0n, "the earlier block's state");

  await client.reset();
  const latest = await upstream.getBlockNumber({ cacheTime: 0 });
  check((await client.getBlockNumber({ cacheTime: 0 })) === latest, "reset() forks the upstream's latest block");
  check((await balance(to)) === 0n, "nothing of the earlier forks");
  console.log("viem fork: ok");
}

run(main);
