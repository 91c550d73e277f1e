// The explorer page in a real browser: puppeteer-core (from npm) drives
// headless Chromium against a lanes-validator --dev node carrying a mixed
// workload (ETH and token transfers from ten keys, signed here with ethers).
// Checks that each view renders its data — the block list grows as blocks
// arrive over the WebSocket, a 1,000-transaction block's lanes are drawn
// with one row per entry and one square per transaction, a transaction's
// set, logs and trace, an address, search — that every request the page
// makes goes to the node, and how long the big block takes to draw.
// Screenshots go to SHOT_DIR. Run by tests/it/explorer.rs; every check
// throws on failure, and the last line printed is "explorer: ok".
//
// Usage: node explorer.cjs HTTP_URL TOKEN_ARTIFACT_JSON CHROMIUM SHOT_DIR
"use strict";
const fs = require("fs");
const path = require("path");
const { client, check, run } = require("./lib.cjs");
const { ethers } = client("ethers");
const puppeteer = client("puppeteer-core");

const [url, artifactPath, chromium, shots] = process.argv.slice(2);
const MNEMONIC = "test test test test test test test test test test test junk";
const BIG_BLOCK = 1000;

async function rpc(method, ...params) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

async function sendRaw(raws) {
  for (let i = 0; i < raws.length; i += 100) {
    const batch = raws.slice(i, i + 100).map((raw, j) =>
      ({ jsonrpc: "2.0", id: i + j, method: "eth_sendRawTransaction", params: [raw] }));
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(batch) });
    for (const a of await res.json()) if (a.error) throw new Error(`send: ${a.error.message}`);
  }
}

async function main() {
  const provider = new ethers.JsonRpcProvider(url, undefined, { cacheTimeout: -1, pollingInterval: 50 });
  const keys = [...Array(10).keys()].map((i) =>
    ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(provider));
  const artifact = JSON.parse(fs.readFileSync(artifactPath, "utf8"));
  const token = await new ethers.ContractFactory(artifact.abi, artifact.bytecode, keys[0]).deploy("Lane Token", "LANE", 10n ** 24n);
  await token.waitForDeployment();
  const tokenAddress = await token.getAddress();
  // Every key holds tokens, so the mixed block has many token senders.
  for (const k of keys.slice(1)) await (await token.transfer(k.address, 10n ** 21n)).wait();

  const origin = new URL(url).origin;
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-quic"],
  });
  const outside = [];
  const errors = [];
  try {
    const page = await browser.newPage();
    page.on("request", (r) => {
      const u = r.url();
      if (!u.startsWith("data:") && new URL(u).origin !== origin) outside.push(u);
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.setViewport({ width: 1280, height: 900 });
    const open = async (where) => {
      const started = Date.now();
      await page.goto(`${origin}/explorer${where}`, { waitUntil: "domcontentloaded" });
      await page.waitForFunction(() => window.explorer && window.explorer.ready, { timeout: 30000 });
      const failed = await page.evaluate(() => window.explorer.error);
      check(!failed, `${where || "/"} renders (${failed || "no error"}) in ${Date.now() - started} ms`);
    };

    // The latest blocks, growing as new ones arrive over the WebSocket.
    await open("");
    await page.waitForFunction(() => document.getElementById("live").textContent === "live", { timeout: 10000 });
    const before = await page.$$eval("#blocks tbody tr", (rows) => rows.length);
    const head = await provider.getBlockNumber();
    for (let i = 0; i < 3; i++) await (await keys[2].sendTransaction({ to: keys[3].address, value: 1n })).wait();
    await page.waitForFunction((n) => document.querySelector(`#blocks tbody tr[data-n="${n}"]`), { timeout: 15000 }, head + 3);
    const after = await page.$$eval("#blocks tbody tr", (rows) => rows.length);
    check(after === Math.min(before + 3, 50), `the block list grew as blocks arrived: ${before} -> ${after} rows`);
    await page.screenshot({ path: path.join(shots, "explorer-home.png") });

    // One block of 1,000: ETH transfers (known sets) and token transfers
    // (predicted) from ten keys, many to one receiver (its slot is hot).
    await rpc("evm_setAutomine", false);
    await rpc("evm_setBlockGasLimit", "0x" + (60_000_000).toString(16));
    const fee = (await provider.getBlock("latest")).baseFeePerGas * 3n;
    const nonces = await Promise.all(keys.map((k) => provider.getTransactionCount(k.address)));
    const iface = new ethers.Interface(artifact.abi);
    const hot = ethers.Wallet.createRandom().address;
    const raws = [];
    for (let i = 0; i < BIG_BLOCK; i++) {
      const k = i % keys.length;
      const tokenTx = i % 3 === 0;
      const to = i % 7 === 0 ? hot : ethers.Wallet.createRandom().address;
      raws.push(await keys[k].signTransaction({
        type: 2, chainId: 31337, nonce: nonces[k]++, maxFeePerGas: fee, maxPriorityFeePerGas: 1n,
        gasLimit: tokenTx ? 80000 : 21000,
        to: tokenTx ? tokenAddress : to, value: tokenTx ? 0n : 1000n,
        data: tokenTx ? iface.encodeFunctionData("transfer", [to, 5n]) : "0x",
      }));
    }
    await sendRaw(raws);
    await rpc("evm_mine");
    await rpc("evm_setAutomine", true);
    const big = await provider.getBlock("latest");
    check(big.transactions.length === BIG_BLOCK, `one block holds all ${BIG_BLOCK} (${big.transactions.length})`);
    const lanes = await rpc("lanes_getBlockLanes", ethers.toQuantity(big.number));
    check(lanes.entries.length >= 1 && lanes.hotKeys.length > 0, `${lanes.entries.length} entries, ${lanes.hotKeys.length} hot keys`);

    const draws = [];
    for (let i = 0; i < 3; i++) {
      await open(`/block/${big.number}`);
      const drawn = await page.evaluate(() => ({
        entries: document.querySelectorAll("#lanes .entry").length,
        txs: document.querySelectorAll("#lanes .tx").length,
        rows: document.querySelectorAll("#txs tbody tr").length,
        hot: document.querySelectorAll("#hot tbody tr").length,
        bal: document.querySelectorAll("#bal tbody tr").length,
        waits: document.querySelectorAll("#lanes svg path").length,
        ms: window.explorer.drawMs,
      }));
      check(drawn.entries === lanes.entries.length, `a row per entry: ${drawn.entries}`);
      check(drawn.txs === BIG_BLOCK && drawn.rows === BIG_BLOCK, `a square and a row per transaction: ${drawn.txs}, ${drawn.rows}`);
      check(drawn.hot === lanes.hotKeys.length, `the hot keys listed: ${drawn.hot}`);
      const bal = await rpc("eth_getBlockAccessList", ethers.toQuantity(big.number));
      check(drawn.bal === bal.length && bal.length > 0, `its access list (EIP-7928), an account a row: ${drawn.bal}`);
      draws.push(drawn.ms);
    }
    draws.sort((a, b) => a - b);
    console.log(`draw ms of a ${BIG_BLOCK}-transaction block: ${draws.map((d) => d.toFixed(1)).join(", ")}; median ${draws[1].toFixed(1)}`);
    // The goal is 300 ms (scripts/explorer-draw.sh measures it); ten times
    // that fails the test whatever else loads the machine.
    check(draws[1] < 3000, `the block draws in well under 3 s (median ${draws[1].toFixed(0)} ms)`);
    await page.hover("#lanes .entry:nth-child(3) .tx").catch(() => page.hover("#lanes .tx"));
    const picked = await page.$eval("#pick", (p) => p.textContent);
    check(/reads \d+, writes \d+/.test(picked), `pointing at a transaction names its set: ${picked.slice(0, 80)}`);
    await page.screenshot({ path: path.join(shots, "explorer-block.png") });

    // A token transfer's page: its set, what it did, its decoded log.
    // Token transfers are the block's predicted sets; the first one's page
    // (its traces re-run only the transactions before it).
    const tokenTx = lanes.transactions.find((t) => t.source === "predicted").hash;
    // Clicked in the page, not at the link's coordinates: under the sticky
    // header, in a 1,000-row table, puppeteer's aim may land beside it.
    await page.$eval(`#txs a[href="/explorer/tx/${tokenTx}"]`, (a) => a.click());
    await page.waitForFunction(() => window.explorer.ready && window.explorer.view !== "block", { timeout: 60000 });
    const txError = await page.evaluate(() => window.explorer.view === "tx" ? null : `${window.explorer.view}: ${window.explorer.error}`);
    check(txError === null, `the transaction's page opens (${txError})`);
    const txView = await page.evaluate(() => ({
      source: document.getElementById("set")?.dataset.source,
      setKeys: document.querySelectorAll("#set-writes .key, #set-reads .key").length,
      didKeys: document.querySelectorAll("#did-writes .key, #did-reads .key").length,
      log: document.querySelector("#logs tbody")?.textContent || "",
      calls: document.querySelectorAll("#calls li").length,
      url: location.pathname,
    }));
    check(txView.url === `/explorer/tx/${tokenTx}`, "the view has its own URL");
    check(txView.source === "predicted" && txView.setKeys > 0, `its set shown: ${txView.source}, ${txView.setKeys} keys`);
    check(txView.didKeys > 0, `what it read and wrote: ${txView.didKeys} keys`);
    check(/Transfer\(/.test(txView.log) && txView.log.includes("5"), `its log decoded: ${txView.log.slice(0, 90)}`);
    check(txView.calls >= 1, "its call trace drawn");
    await page.screenshot({ path: path.join(shots, "explorer-tx.png"), fullPage: true });

    // The token's address page names it from the verified sources.
    await open(`/address/${tokenAddress}`);
    const title = await page.$eval("h1", (h) => h.textContent);
    check(title.includes("Token"), `the address named from its verified source: ${title}`);
    check((await page.$$("#addr-txs tbody tr")).length > 0, "its transactions listed");
    await page.screenshot({ path: path.join(shots, "explorer-address.png") });

    // Search by number, then by hash.
    await page.$eval("#q", (q) => { q.value = ""; });
    await page.type("#q", String(big.number));
    await page.keyboard.press("Enter");
    await page.waitForFunction((n) => window.explorer.ready && location.pathname === `/explorer/block/${n}`, { timeout: 20000 }, big.number);
    await open(`/search/${tokenTx}`);
    check(await page.evaluate(() => window.explorer.view) === "tx", "a transaction hash finds the transaction");

    // A phone's width, dark.
    await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 1 });
    await page.goto(`${origin}/explorer/block/${big.number}?theme=dark`, { waitUntil: "domcontentloaded" });
    await page.waitForFunction(() => window.explorer && window.explorer.ready, { timeout: 30000 });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    check(wide <= 400, `fits a phone's width: ${wide}px`);
    check(await page.evaluate(() => document.documentElement.dataset.theme) === "dark", "the dark theme");
    await page.screenshot({ path: path.join(shots, "explorer-block-phone-dark.png") });
  } finally {
    await browser.close();
  }
  check(outside.length === 0, `every request went to the node (${outside.slice(0, 3).join(", ")})`);
  check(errors.length === 0, `no script errors (${errors.slice(0, 3).join("; ")})`);
  console.log("explorer: ok");
}

run(main);
