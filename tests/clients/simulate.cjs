// eth_simulateV1 on lanes-validator --dev and on anvil (from npm) side by
// side, with viem: the same requests go to both, covering state overrides
// (balance, code, state, stateDiff, a moved precompile), several blocks,
// validation and the errors a request can end in; what each call did
// (status, return data, gas, logs, error code and data) must be equal, and a
// request both refuse must be refused with the same code. Where anvil 1.7.1
// departs from the execution-apis specification (it numbers the first block
// as the head's, adds no gap blocks, keeps the base fee, refuses a call with
// no "to", does not run a precompile moved to the address a transaction is
// sent to), lanes is checked against the specification's rule instead. viem's simulateBlocks and
// simulateCalls run on lanes as a user would call them.
// Every check throws on failure; the last line is "simulate: ok".
//
// Usage: node simulate.cjs LANES_URL ANVIL_URL TOKEN_JSON
"use strict";
const fs = require("fs");
const { client: load, check, run } = require("./lib.cjs");
const viem = load("viem");
const { foundry } = load("viem/_cjs/chains/index.js");

const [lanesUrl, anvilUrl, tokenPath] = process.argv.slice(2);
const token = JSON.parse(fs.readFileSync(tokenPath));

const node = (url) => viem.createPublicClient({ chain: foundry, transport: viem.http(url) });
const json = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x));
const short = (s) => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

const A = "0xc000000000000000000000000000000000000000";
const B = "0xc100000000000000000000000000000000000000";
const C = "0xc200000000000000000000000000000000000000";
const hex = (n) => `0x${BigInt(n).toString(16)}`;
const ETH = 10n ** 18n;

/** The token A deploys as its first contract (nonce 0). */
const tokenAddress = viem.getContractAddress({ from: A, nonce: 0n });
const deployToken = {
  from: A,
  input: viem.encodeDeployData({ abi: token.abi, bytecode: token.bytecode, args: ["Sim", "SIM", 10n ** 24n] }),
};
const tokenCall = (functionName, args, extra = {}) => ({
  from: A,
  to: tokenAddress,
  input: viem.encodeFunctionData({ abi: token.abi, functionName, args }),
  ...extra,
});
/** The token's code and A's balance (ERC-20 balances are slot 0's mapping), as overrides. */
const tokenOverride = {
  [tokenAddress]: {
    code: token.deployedBytecode,
    stateDiff: { [viem.keccak256(viem.concat([viem.pad(A), viem.pad("0x0")]))]: viem.pad(viem.toHex(10n ** 24n)) },
  },
};

// Runtime code: returns NUMBER, TIMESTAMP and SLOAD(0) as three words.
const PROBE = "0x4360005242602052600054604052606060" + "00f3";
// Runtime code: LOG1(topic 0x42) with no data, then STOP.
const LOGGER = "0x604260006000a100";
// Runtime code: an endless loop (runs out of gas).
const LOOP = "0x5b600056";

/** The requests both nodes answer; `spec` checks lanes alone where anvil departs. */
const cases = [
  {
    name: "a transfer with a balance override and traced transfers",
    payload: {
      blockStateCalls: [{ stateOverrides: { [A]: { balance: hex(ETH) } }, calls: [{ from: A, to: B, value: hex(1000) }] }],
      traceTransfers: true,
    },
  },
  {
    name: "a token (code and storage overrides) used in one block, a reverted transfer, state kept into the next block",
    payload: {
      blockStateCalls: [
        {
          stateOverrides: { [A]: { balance: hex(ETH) }, ...tokenOverride },
          calls: [tokenCall("transfer", [B, 5n]), tokenCall("transfer", [B, 10n ** 30n], { gas: hex(100000) })],
        },
        { calls: [tokenCall("balanceOf", [B]), tokenCall("transfer", [C, 2n])] },
      ],
    },
  },
  {
    name: "code, state and stateDiff overrides read back by a contract",
    payload: {
      blockStateCalls: [
        { stateOverrides: { [B]: { code: PROBE, state: { [hex32(0)]: hex32(7) } } }, calls: [{ from: A, to: B }] },
        { stateOverrides: { [B]: { stateDiff: { [hex32(0)]: hex32(9) } } }, calls: [{ from: A, to: B }] },
      ],
    },
    // Block numbers and times differ on anvil (see above): compare the slot only.
    project: (calls) => calls.map((c) => ({ ...c, output: c.output && `0x${c.output.slice(130)}` })),
  },
  {
    name: "a log and an out-of-gas halt",
    payload: {
      blockStateCalls: [
        {
          stateOverrides: { [B]: { code: LOGGER }, [C]: { code: LOOP } },
          calls: [{ from: A, to: B }, { from: A, to: C, gas: hex(50000) }],
        },
      ],
    },
  },
  {
    name: "validation: a max fee below the base fee",
    code: -38012,
    payload: { blockStateCalls: [{ blockOverrides: { baseFeePerGas: hex(10) }, calls: [{ from: A, to: B, maxFeePerGas: hex(1) }] }], validation: true },
  },
  {
    name: "validation: a nonce too high",
    anvilAccepts: true,
    code: -38011,
    payload: {
      blockStateCalls: [
        {
          blockOverrides: { baseFeePerGas: "0x0" },
          stateOverrides: { [A]: { balance: hex(ETH) } },
          calls: [{ from: A, to: B, nonce: hex(5), maxFeePerGas: "0x0" }],
        },
      ],
      validation: true,
    },
  },
  {
    name: "value above the balance",
    code: -38014,
    payload: { blockStateCalls: [{ calls: [{ from: C, to: B, value: hex(ETH) }] }] },
  },
  {
    name: "gas below the intrinsic gas",
    code: -38013,
    payload: { blockStateCalls: [{ calls: [{ from: A, to: B, gas: "0x0" }] }] },
  },
  {
    name: "block numbers out of order",
    anvilAccepts: true,
    code: -38020,
    payload: { blockStateCalls: [{ blockOverrides: { number: "0x20" } }, { blockOverrides: { number: "0x10" } }] },
  },
  {
    name: "block times out of order",
    anvilAccepts: true,
    code: -38021,
    payload: { blockStateCalls: [{ blockOverrides: { time: hex(4e9) } }, { blockOverrides: { time: hex(3e9) } }] },
  },
];

function hex32(n) {
  return viem.pad(hex(n), { size: 32 });
}

/**
 * What a call did, without the fields that depend on the chain (hashes, numbers). A revert's
 * bytes are compared wherever each node puts them: anvil 1.7.1 answers them as returnData
 * with code -32000, the specification (and lanes) as error.data with code 3 and returnData 0x.
 */
function callShape(c) {
  const failed = c.status === "0x0";
  return {
    status: c.status,
    output: failed ? (c.error && c.error.data) || c.returnData : c.returnData,
    gasUsed: c.gasUsed,
    logs: c.logs.map((l) => ({ address: l.address.toLowerCase(), topics: l.topics, data: l.data })),
  };
}

/** The specification's rule for a failed call on lanes: code 3 and the data for a revert, -32015 for a halt. */
function failureRule(c, what) {
  if (c.status !== "0x0") return;
  check(c.returnData === "0x", `${what}: a failed call returns 0x`);
  check(c.error && (c.error.code === 3 || c.error.code === -32015), `${what}: failure code ${c.error && c.error.code}`);
  if (c.error.code === 3) check(typeof c.error.data === "string", `${what}: a revert carries its data`);
}

async function answer(c, payload) {
  try {
    return { result: await c.request({ method: "eth_simulateV1", params: [payload, "latest"] }) };
  } catch (e) {
    const cause = e.cause || e;
    return { code: cause.code };
  }
}

async function differential(lanes, anvil) {
  for (const k of cases) {
    const [l, a] = [await answer(lanes, k.payload), await answer(anvil, k.payload)];
    if (k.code !== undefined) {
      // Both refuse; the code is the specification's (anvil 1.7.1 answers -32003 for some).
      if (!k.anvilAccepts) check(a.code !== undefined, `${k.name}: anvil refuses it (${a.code})`);
      check(l.code === k.code, `${k.name}: refused with ${l.code} (anvil ${a.code})`);
      continue;
    }
    check(l.code === undefined && a.code === undefined, `${k.name}: both answer (lanes ${l.code}, anvil ${a.code})`);
    l.result.forEach((b) => b.calls.forEach((c) => failureRule(c, k.name)));
    const calls = (r) => r.filter((b) => b.calls.length > 0).map((b) => b.calls.map(callShape));
    const project = k.project || ((x) => x);
    const [lc, ac] = [calls(l.result).map(project), calls(a.result).map(project)];
    check(json(lc) === json(ac), `${k.name}: ${json(lc) === json(ac) ? short(json(lc)) : `${json(lc)} but anvil: ${json(ac)}`}`);
  }
}

/** The specification's block rules, where anvil 1.7.1 departs from them. */
async function blockRules(lanes) {
  const head = await lanes.getBlock();
  const r = await lanes.request({
    method: "eth_simulateV1",
    params: [{ blockStateCalls: [{}, { blockOverrides: { number: hex(head.number + 4n) } }, {}] }, "latest"],
  });
  const numbers = r.map((b) => BigInt(b.number));
  const expected = [1n, 2n, 3n, 4n, 5n].map((d) => head.number + d);
  check(json(numbers) === json(expected), `gap blocks fill the numbers: ${json(numbers)}`);
  check(r.every((b, i) => BigInt(b.timestamp) === head.timestamp + 12n * BigInt(i + 1)), "each block is 12 s after the one before");
  check(r.every((b, i) => b.parentHash === (i === 0 ? head.hash : r[i - 1].hash)), "each block's parent is the block before");
  check(r.every((b) => b.baseFeePerGas === "0x0"), "the base fee is 0 without validation");
  const v = await lanes.request({ method: "eth_simulateV1", params: [{ blockStateCalls: [{}], validation: true }, "latest"] });
  check(BigInt(v[0].baseFeePerGas) > 0n, `with validation the base fee follows EIP-1559: ${v[0].baseFeePerGas}`);
  const created = await lanes.request({
    method: "eth_simulateV1",
    params: [{ blockStateCalls: [{ stateOverrides: { [A]: { balance: hex(ETH) } }, calls: [deployToken, tokenCall("totalSupply", [])] }] }, "latest"],
  });
  const supply = created[0].calls[1];
  check(supply.status === "0x1" && BigInt(supply.returnData) === 10n ** 24n, "a call with no 'to' creates the contract later calls use");
  const far = await answer(lanes, { blockStateCalls: [{ blockOverrides: { number: hex(head.number + 300n) } }] });
  check(far.code === -38026, `more than 256 blocks ahead is refused: ${far.code}`);
  const none = await answer(lanes, { blockStateCalls: [] });
  check(none.code === -32602, `no blocks is refused: ${none.code}`);
}

/** ecrecover moved for one block: the new address recovers the signer, the old one nothing. */
async function movedPrecompile(lanes) {
  const { privateKeyToAccount } = load("viem/_cjs/accounts/index.js");
  const signer = privateKeyToAccount(viem.keccak256("0x01"));
  const hash = viem.keccak256("0x1234");
  const sig = viem.parseSignature(await signer.sign({ hash }));
  const input = viem.concat([hash, viem.pad(viem.toHex(sig.yParity + 27)), sig.r, sig.s]);
  const ecrecover = "0x0000000000000000000000000000000000000001";
  const r = await lanes.request({
    method: "eth_simulateV1",
    params: [
      {
        blockStateCalls: [
          { stateOverrides: { [ecrecover]: { movePrecompileToAddress: C } }, calls: [{ from: A, to: C, input }, { from: A, to: ecrecover, input }] },
          { calls: [{ from: A, to: C, input }, { from: A, to: ecrecover, input }] },
        ],
      },
      "latest",
    ],
  });
  const recovered = (c) => (c.returnData === "0x" ? "0x" : viem.getAddress(`0x${c.returnData.slice(26)}`));
  check(recovered(r[0].calls[0]) === signer.address, "the moved ecrecover recovers the signer at its new address");
  check(r[0].calls[1].returnData === "0x", "the old address runs nothing while it is moved");
  check(recovered(r[1].calls[1]) === signer.address && r[1].calls[0].returnData === "0x", "the move lasts one block");
}

/** viem's own actions, as a dapp calls them. */
async function viemActions(lanes) {
  const blocks = await lanes.simulateBlocks({
    blocks: [
      {
        stateOverrides: [{ address: A, balance: ETH }],
        calls: [
          { account: A, data: deployToken.input },
          { account: A, to: tokenAddress, abi: token.abi, functionName: "transfer", args: [B, 7n] },
        ],
      },
      { calls: [{ account: A, to: tokenAddress, abi: token.abi, functionName: "balanceOf", args: [B] }] },
    ],
  });
  check(blocks.length === 2, "simulateBlocks: two blocks");
  check(blocks[0].calls[1].status === "success" && blocks[0].calls[1].result === true, "simulateBlocks: transfer returned true");
  check(blocks[0].calls[1].logs.length === 1, "simulateBlocks: the transfer logged once");
  check(blocks[1].calls[0].result === 7n, `simulateBlocks: the balance carried into the next block: ${blocks[1].calls[0].result}`);
  const { results } = await lanes.simulateCalls({
    account: A,
    calls: [{ to: B, value: 1000n }],
    stateOverrides: [{ address: A, balance: ETH }],
    traceTransfers: true,
  });
  check(results[0].status === "success", "simulateCalls: the transfer succeeded");
  check(results[0].logs.length === 1 && results[0].logs[0].address === "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "simulateCalls: an ERC-7528 transfer log");
}

run(async () => {
  const [lanes, anvil] = [node(lanesUrl), node(anvilUrl)];
  await differential(lanes, anvil);
  await blockRules(lanes);
  await movedPrecompile(lanes);
  await viemActions(lanes);
  console.log("simulate: ok");
});
