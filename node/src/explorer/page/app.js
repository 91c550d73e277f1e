"use strict";
// The lanes explorer: every view is drawn from the node's public JSON-RPC
// (eth_*, ots_*, lanes_*) on the page's own origin, new blocks arrive over
// its WebSocket (eth_subscribe newHeads). No request leaves the node.
(() => {
  const BASE = "/explorer";
  const LIST_MAX = 50;
  const view = document.getElementById("view");
  const state = { listening: null, names: new Map(), sigs: new Map() };
  window.explorer = { view: null, ready: false, drawMs: null, error: null };

  // ---- JSON-RPC ------------------------------------------------------------
  let nextId = 1;
  class RpcError extends Error {}
  async function post(body) {
    const res = await fetch("/", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok && res.status !== 200) throw new RpcError(`HTTP ${res.status}`);
    return res.json();
  }
  async function rpc(method, ...params) {
    const body = await post({ jsonrpc: "2.0", id: nextId++, method, params });
    if (body.error) throw new RpcError(`${method}: ${body.error.message}`);
    return body.result;
  }
  // Calls in batches of 100; a failed call answers null.
  async function batch(calls) {
    const out = [];
    for (let i = 0; i < calls.length; i += 100) {
      const chunk = calls.slice(i, i + 100).map(([method, ...params]) =>
        ({ jsonrpc: "2.0", id: nextId++, method, params }));
      const answers = await post(chunk);
      const byId = new Map((Array.isArray(answers) ? answers : []).map((a) => [a.id, a]));
      for (const c of chunk) out.push(byId.get(c.id)?.result ?? null);
    }
    return out;
  }

  // ---- formatting ----------------------------------------------------------
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const big = (h) => (h == null ? 0n : BigInt(h));
  const num = (h) => Number(big(h));
  const short = (h) => (h && h.length > 14 ? `${h.slice(0, 8)}…${h.slice(-6)}` : h || "");
  const group = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  function eth(wei) {
    const w = big(wei);
    const whole = w / 10n ** 18n;
    const frac = (w % 10n ** 18n).toString().padStart(18, "0").slice(0, 6).replace(/0+$/, "");
    return `${group(whole)}${frac ? "." + frac : ""} ETH`;
  }
  function gwei(wei) {
    const g = Number(big(wei)) / 1e9;
    return `${g < 0.01 ? g.toPrecision(2) : g.toFixed(2)} gwei`;
  }
  function kgas(g) {
    const n = Number(g);
    return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
  }
  function ago(ts) {
    const s = Math.max(0, Math.round(Date.now() / 1000 - num(ts)));
    return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : s < 86400 ? `${Math.floor(s / 3600)}h ago` : new Date(num(ts) * 1000).toISOString().slice(0, 16).replace("T", " ");
  }
  const blockLink = (n) => `<a href="${BASE}/block/${num(n)}">${group(num(n))}</a>`;
  const txLink = (h, text) => `<a class="mono" href="${BASE}/tx/${h}">${esc(text ?? short(h))}</a>`;
  function addrLink(a, full) {
    if (!a) return '<span class="muted">—</span>';
    const name = state.names.get(a.toLowerCase());
    const label = name ? `${esc(name)} <span class="muted mono">${short(a)}</span>` : `<span class="mono">${full ? a : short(a)}</span>`;
    return `<a href="${BASE}/address/${a}">${label}</a>`;
  }
  function keyLabel(k) {
    const what = k.kind === "account" ? "balance, nonce, code" : k.kind === "allStorage" ? "every slot" : `slot <span class="mono">${short(k.slot)}</span>`;
    return `${addrLink(k.address)} · ${what}`;
  }

  // ---- ABI decoding ----------------------------------------------------------
  function word(hex, at) { return hex.slice(at * 2, at * 2 + 64); }
  function isDynamic(p) {
    if (p.type === "string" || p.type === "bytes" || p.type.endsWith("[]")) return true;
    const fixed = p.type.match(/^(.*)\[(\d+)\]$/);
    if (fixed) return isDynamic({ ...p, type: fixed[1] });
    if (p.type === "tuple") return (p.components || []).some(isDynamic);
    return false;
  }
  function headSize(p) {
    if (isDynamic(p)) return 32;
    const fixed = p.type.match(/^(.*)\[(\d+)\]$/);
    if (fixed) return Number(fixed[2]) * headSize({ ...p, type: fixed[1] });
    if (p.type === "tuple") return (p.components || []).reduce((s, c) => s + headSize(c), 0);
    return 32;
  }
  // Decodes `params` from `hex` (no 0x), the tuple starting at byte `base`.
  function decodeTuple(params, hex, base = 0) {
    let at = base;
    return params.map((p) => {
      const v = isDynamic(p)
        ? decodeOne(p, hex, base + Number(BigInt("0x" + (word(hex, at) || "0"))))
        : decodeOne(p, hex, at);
      at += headSize(p);
      return v;
    });
  }
  function decodeOne(p, hex, at) {
    const t = p.type;
    const arr = t.match(/^(.*)\[(\d*)\]$/);
    if (arr) {
      const inner = { ...p, type: arr[1] };
      let n = Number(arr[2]);
      let start = at;
      if (arr[2] === "") { n = Number(BigInt("0x" + word(hex, at))); start = at + 32; }
      if (n > 256) throw new Error("array too long to show");
      return decodeTuple(Array(n).fill(inner), hex, start);
    }
    if (t === "tuple") return decodeTuple(p.components || [], hex, at);
    const w = word(hex, at);
    if (w.length < 64) throw new Error("short data");
    if (t === "address") return "0x" + w.slice(24);
    if (t === "bool") return BigInt("0x" + w) !== 0n;
    if (t.startsWith("uint")) return BigInt("0x" + w);
    if (t.startsWith("int")) {
      const bits = Number(t.slice(3) || 256);
      let v = BigInt("0x" + w) & ((1n << BigInt(bits)) - 1n);
      if (v >> BigInt(bits - 1)) v -= 1n << BigInt(bits);
      return v;
    }
    const fixedBytes = t.match(/^bytes(\d+)$/);
    if (fixedBytes) return "0x" + w.slice(0, Number(fixedBytes[1]) * 2);
    const len = Number(BigInt("0x" + w));
    const data = hex.slice((at + 32) * 2, (at + 32 + len) * 2);
    if (t === "bytes") return "0x" + data;
    if (t === "string") {
      const bytes = new Uint8Array(data.match(/../g)?.map((b) => parseInt(b, 16)) || []);
      return new TextDecoder().decode(bytes);
    }
    throw new Error(`type ${t}`);
  }
  function showValue(v, p) {
    if (Array.isArray(v)) return `[${v.map((x, i) => showValue(x, (p.components || [])[i] || { type: p.type.replace(/\[\d*\]$/, "") })).join(", ")}]`;
    if (typeof v === "bigint") return group(v.toString());
    if (typeof v === "boolean") return String(v);
    if (p && p.type === "address") return addrLink(v);
    if (p && p.type === "string") return `"${esc(v)}"`;
    return `<span class="mono">${esc(v)}</span>`;
  }
  const signature = (item) => `${item.name}(${(item.inputs || []).map((i) => i.type).join(",")})`;
  // `name(arg, …)` of calldata `input` by the node's selector table (its
  // verified sources and the common standards), or null.
  function decodeCall(input) {
    if (!input || input.length < 10) return null;
    for (const item of state.sigs.get(input.slice(0, 10).toLowerCase()) || []) {
      if (item.type !== "function") continue;
      try {
        const args = decodeTuple(item.inputs || [], input.slice(10));
        return `${esc(item.name)}(${args.map((a, i) => `<span class="muted">${esc(item.inputs[i].name || "")}</span> ${showValue(a, item.inputs[i])}`).join(", ")})`;
      } catch (_) { /* another candidate */ }
    }
    return null;
  }
  function decodeLog(log) {
    const items = (state.sigs.get((log.topics[0] || "").toLowerCase()) || []).filter((i) => i.type === "event");
    for (const item of items) {
      const indexed = item.inputs.filter((i) => i.indexed);
      if (indexed.length !== log.topics.length - 1) continue;
      try {
        const data = decodeTuple(item.inputs.filter((i) => !i.indexed), log.data.slice(2));
        let t = 1, d = 0;
        const args = item.inputs.map((i) => {
          const v = i.indexed ? (isDynamic(i) ? log.topics[t++] : decodeOne(i, log.topics[t++].slice(2), 0)) : data[d++];
          return `<span class="muted">${esc(i.name || "")}</span> ${showValue(v, i)}`;
        });
        return `${esc(item.name)}(${args.join(", ")})`;
      } catch (_) { /* another candidate */ }
    }
    return null;
  }
  // Fetches the ABI entries of `ids` (selectors, topics) not yet known.
  async function learnSignatures(ids) {
    const wanted = [...new Set(ids.filter((i) => i && (i.length === 10 || i.length === 66)).map((i) => i.toLowerCase()))]
      .filter((i) => !state.sigs.has(i));
    for (let i = 0; i < wanted.length; i += 1000) {
      const found = await rpc("lanes_lookupSignatures", wanted.slice(i, i + 1000)).catch(() => ({}));
      for (const id of wanted.slice(i, i + 1000)) state.sigs.set(id, found[id] || []);
    }
  }
  // Names the contracts among `addresses` that the node's verified sources know.
  async function learnNames(addresses) {
    const wanted = [...new Set(addresses.filter(Boolean).map((a) => a.toLowerCase()))].filter((a) => !state.names.has(a)).slice(0, 200);
    if (!wanted.length) return;
    const abis = await batch(wanted.map((a) => ["lanes_getContractAbi", a]));
    wanted.forEach((a, i) => { if (abis[i]) state.names.set(a, abis[i].name); });
  }

  // ---- views -----------------------------------------------------------------
  function show(html, name) {
    view.innerHTML = html;
    document.body.dataset.view = name;
    window.explorer.view = name;
  }
  function fail(e) {
    window.explorer.error = String(e && e.message || e);
    show(`<div class="err">${esc(window.explorer.error)}</div>`, "error");
    ready();
  }
  function ready() { window.explorer.ready = true; document.body.dataset.ready = "1"; }

  async function home() {
    const head = num(await rpc("eth_blockNumber"));
    const numbers = [];
    for (let n = head; n >= 0 && numbers.length < 20; n--) numbers.push(n);
    const stats = await rpc("lanes_stats").catch(() => null);
    const calls = numbers.flatMap((n) => [["eth_getBlockByNumber", "0x" + n.toString(16), false], ["lanes_getBlockEntries", "0x" + n.toString(16)]]);
    const got = await batch(calls);
    const rows = [];
    for (let i = 0; i < numbers.length; i++) if (got[2 * i]) rows.push(blockRow(got[2 * i], got[2 * i + 1]));
    const s = stats ? [
      ["head", group(head)], ["blocks built", group(stats.blocks)], ["transactions", group(stats.transactions)],
      ["per entry", stats.meanEntryWidth.toFixed(2)], ["predicted", group(stats.predicted)],
      ["predictions held", group(stats.predictionsHeld)], ["ran alone", group(stats.exclusive)], ["pool", group(stats.pool)],
    ] : [["head", group(head)]];
    show(`<div class="stats">${s.map(([k, v], i) => `<div class="stat"${i === 0 ? ' id="head"' : ""}><b>${v}</b><span>${k}</span></div>`).join("")}</div>
      <h2>Latest blocks</h2>
      <div class="scroll"><table id="blocks"><thead><tr><th>Block</th><th>Age</th><th class="num">Txs</th><th class="num">Entries</th><th class="num">Widest</th><th class="num">Gas used</th><th>Base fee</th><th>Hash</th></tr></thead>
      <tbody>${rows.join("")}</tbody></table></div>`, "home");
    listen(async (header) => {
      const body = document.querySelector("#blocks tbody");
      if (!body || body.querySelector(`tr[data-n="${num(header.number)}"]`)) return;
      document.querySelector("#head b").textContent = group(num(header.number));
      const entries = await rpc("lanes_getBlockEntries", header.number).catch(() => null);
      body.insertAdjacentHTML("afterbegin", blockRow(header, entries));
      while (body.rows.length > LIST_MAX) body.deleteRow(body.rows.length - 1);
    });
    ready();
  }
  function blockRow(b, entries) {
    const txs = Array.isArray(b.transactions) ? b.transactions.length : (entries ? entries.transactions : "");
    const widest = entries ? Math.max(0, ...entries.entries.map((e) => (e.lanes && e.lanes.length ? new Set(e.lanes).size : e.width))) : "";
    return `<tr data-n="${num(b.number)}"><td>${blockLink(b.number)}</td><td class="muted">${ago(b.timestamp)}</td><td class="num">${txs}</td>
      <td class="num">${entries ? entries.entries.length : ""}</td><td class="num">${widest}</td><td class="num">${kgas(num(b.gasUsed))}</td>
      <td>${b.baseFeePerGas ? gwei(b.baseFeePerGas) : ""}</td><td class="mono">${short(b.hash)}</td></tr>`;
  }

  // Colour of a transaction in the lanes: where its set came from, and how it ran.
  function category(t, exclusive) {
    if (t.run === "strayed" || exclusive) return "alone";
    if (t.source === "declared") return "declared";
    if (t.source === "known") return "known";
    if (t.run === "reran") return "rerun";
    if (t.run === "stood") return "stood";
    return "predicted";
  }
  const CATEGORIES = [["declared", "declared (access list)"], ["known", "known from state"], ["predicted", "predicted"],
    ["stood", "predicted, stood"], ["rerun", "predicted again, re-run"], ["alone", "alone (exclusive lane)"]];

  async function block(id) {
    const byHash = /^0x[0-9a-fA-F]{64}$/.test(id);
    const b = byHash ? await rpc("eth_getBlockByHash", id, true) : await rpc("eth_getBlockByNumber", /^\d+$/.test(id) ? "0x" + BigInt(id).toString(16) : id, true);
    if (!b) throw new Error(`block ${id} not found`);
    const n = b.number;
    const [lanes, receipts, bal] = await batch([["lanes_getBlockLanes", n], ["eth_getBlockReceipts", n], ["eth_getBlockAccessList", n]]);
    const txs = b.transactions;
    await learnNames([...txs.map((t) => t.to), ...(lanes ? lanes.hotKeys.map((h) => lanes.keys[h.key].address) : [])]);
    await learnSignatures(txs.map((t) => (t.input || "").slice(0, 10)));
    const t0 = performance.now();
    const counts = {};
    const cats = lanes ? lanes.transactions.map((t) => {
      const c = category(t, lanes.entries[t.entry].exclusive);
      counts[c] = (counts[c] || 0) + 1;
      return c;
    }) : [];
    const entriesHtml = lanes ? lanes.entries.map((e, ei) => {
      const width = e.lanes.length;
      const gas = e.lanes.reduce((s, l) => s + num(l.gasUsed), 0);
      const ls = e.lanes.map((l) => `<div class="lane" title="lane ${l.transactions.length} txs, ${kgas(num(l.gasUsed))} gas">${l.transactions.map((i) => {
        const t = lanes.transactions[i];
        return `<a class="tx c-${cats[i]}${t.run === "strayed" ? " strayed" : ""}" data-i="${i}" href="${BASE}/tx/${t.hash}"></a>`;
      }).join("")}<small>${kgas(num(l.gasUsed))}</small></div>`).join("");
      return `<div class="entry${e.exclusive ? " exclusive" : ""}" data-e="${ei}"><div class="eh"><b>${e.exclusive ? "alone" : `entry ${ei}`}</b><br>${width} lane${width === 1 ? "" : "s"} · ${kgas(gas)}</div><div class="ls">${ls}</div></div>`;
    }).join("") : "";
    const hot = lanes && lanes.hotKeys.length ? `<h2>Hot keys</h2><div class="scroll"><table id="hot"><thead><tr><th>Key</th><th class="num">Txs</th><th class="num">Writers</th><th class="num">Waits</th></tr></thead><tbody>${
      lanes.hotKeys.map((h) => `<tr><td>${keyLabel(lanes.keys[h.key])}</td><td class="num">${h.transactions}</td><td class="num">${h.writers}</td><td class="num">${h.waits}</td></tr>`).join("")}</tbody></table></div>` : "";
    const rcpt = new Map((receipts || []).map((r) => [r.transactionHash, r]));
    const txRows = txs.map((t, i) => {
      const r = rcpt.get(t.hash);
      const lt = lanes && lanes.transactions[i];
      const method = decodeCall(t.input);
      return `<tr><td class="num">${i}</td><td>${txLink(t.hash)}</td><td>${addrLink(t.from)}</td><td>${t.to ? addrLink(t.to) : '<span class="muted">create</span>'}</td>
        <td>${method ? method.replace(/\(.*$/s, "") : (t.input && t.input.length > 2 ? `<span class="mono muted">${t.input.slice(0, 10)}</span>` : "")}</td>
        <td class="num">${eth(t.value)}</td><td class="num">${r ? kgas(num(r.gasUsed)) : ""}</td><td>${r ? (r.status === "0x1" ? '<span class="ok">ok</span>' : '<span class="bad">failed</span>') : ""}</td>
        <td>${lt ? `<span class="pill c-${cats[i]}">${cats[i]}</span> ${lanes.entries[lt.entry].exclusive ? "" : `e${lt.entry}·l${lt.lane}`}` : ""}</td></tr>`;
    }).join("");
    const balHtml = bal && bal.length ? `<h2>Block access list (EIP-7928)</h2><div class="scroll"><table id="bal"><thead><tr><th>Account</th><th class="num">Slots written</th><th class="num">Slots read</th><th class="num">Balance</th><th class="num">Nonce</th><th class="num">Code</th></tr></thead><tbody>${
      bal.map((a) => `<tr><td>${addrLink(a.address)}</td><td class="num">${(a.storageChanges || []).length}</td><td class="num">${(a.storageReads || []).length}</td><td class="num">${(a.balanceChanges || []).length}</td><td class="num">${(a.nonceChanges || []).length}</td><td class="num">${(a.codeChanges || []).length}</td></tr>`).join("")}</tbody></table></div>` : "";
    const bn = num(n);
    show(`<div class="nav">${bn > 0 ? `<a href="${BASE}/block/${bn - 1}">← ${group(bn - 1)}</a>` : ""}<a href="${BASE}/block/${bn + 1}">${group(bn + 1)} →</a></div>
      <h1>Block ${group(bn)}</h1>
      <dl class="card grid"><dt>Hash</dt><dd class="mono">${b.hash}</dd><dt>Parent</dt><dd><a class="mono" href="${BASE}/block/${b.parentHash}">${b.parentHash}</a></dd>
      <dt>Time</dt><dd>${new Date(num(b.timestamp) * 1000).toISOString()} <span class="muted">(${ago(b.timestamp)})</span></dd>
      <dt>Transactions</dt><dd>${txs.length}${lanes ? ` in ${lanes.entries.length} entries, widest ${Math.max(0, ...lanes.entries.map((e) => e.lanes.length))} lanes` : ""}</dd>
      <dt>Gas used</dt><dd>${group(num(b.gasUsed))} of ${group(num(b.gasLimit))}</dd>
      ${b.baseFeePerGas ? `<dt>Base fee</dt><dd>${gwei(b.baseFeePerGas)}</dd>` : ""}<dt>Fee recipient</dt><dd>${addrLink(b.miner, true)}</dd>
      <dt>State root</dt><dd class="mono">${b.stateRoot}</dd></dl>
      ${lanes ? `<h2>How it ran</h2><div class="legend">${CATEGORIES.map(([c, label]) => `<span><i class="c-${c}"></i>${label} <b>${counts[c] || 0}</b></span>`).join("")}${lanes.runsKnown ? "" : '<span class="muted">(how each ran is known only to the node that built the block)</span>'}</div>
      <div class="card"><div id="lanes" data-entries="${lanes.entries.length}">${entriesHtml}</div><div id="pick" class="muted">Point at a transaction to see what it waited on.</div></div>` : ""}
      ${hot}${balHtml}
      <h2>Transactions</h2><div class="scroll deferred"><table id="txs"><thead><tr><th class="num">#</th><th>Hash</th><th>From</th><th>To</th><th>Method</th><th class="num">Value</th><th class="num">Gas</th><th>Status</th><th>Ran</th></tr></thead><tbody>${txRows}</tbody></table></div>`, "block");
    if (lanes) drawWaits(lanes);
    document.body.offsetHeight; // the layout is part of the draw
    window.explorer.drawMs = performance.now() - t0;
    document.getElementById("lanes")?.setAttribute("data-draw-ms", window.explorer.drawMs.toFixed(1));
    ready();
  }

  // Lines from each transaction to those it waited on in earlier entries
  // (within a lane the order shows it), and the keys behind a wait on hover.
  function drawWaits(lanes) {
    const box = document.getElementById("lanes");
    if (!box) return;
    const origin = box.getBoundingClientRect();
    const chips = box.querySelectorAll(".tx");
    const at = new Array(lanes.transactions.length);
    for (const c of chips) {
      const r = c.getBoundingClientRect();
      at[Number(c.dataset.i)] = [r.left - origin.left + r.width / 2, r.top - origin.top + r.height / 2];
    }
    const edge = (a, b) => {
      const [x1, y1] = at[a], [x2, y2] = at[b];
      const my = (y1 + y2) / 2;
      return `M${x1.toFixed(1)},${y1.toFixed(1)} C${x1.toFixed(1)},${my.toFixed(1)} ${x2.toFixed(1)},${my.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
    };
    const paths = [];
    lanes.transactions.forEach((t, i) => {
      for (const w of t.waits) {
        if (lanes.transactions[w.on].entry !== t.entry && at[w.on] && at[i] && paths.length < 4000) paths.push(`<path data-to="${i}" data-on="${w.on}" d="${edge(w.on, i)}"/>`);
      }
    });
    box.insertAdjacentHTML("afterbegin", `<svg width="${origin.width}" height="${origin.height}" aria-hidden="true">${paths.join("")}</svg>`);
    const pick = document.getElementById("pick");
    let selected = null;
    box.addEventListener("mouseover", (ev) => {
      const chip = ev.target.closest(".tx");
      if (!chip || chip === selected) return;
      selected?.classList.remove("sel");
      selected = chip;
      chip.classList.add("sel");
      const i = Number(chip.dataset.i);
      const t = lanes.transactions[i];
      box.querySelectorAll("path.hi").forEach((p) => p.classList.remove("hi"));
      box.querySelectorAll(`path[data-to="${i}"], path[data-on="${i}"]`).forEach((p) => p.classList.add("hi"));
      const waits = t.waits.map((w) => `<li>waited on ${txLink(lanes.transactions[w.on].hash, "#" + w.on)} for ${w.keys.map((k) => keyLabel(lanes.keys[k])).join("; ")}</li>`).join("");
      pick.innerHTML = `#${i} ${txLink(t.hash)} · ${t.source}${t.run ? ", " + t.run : ""} · ${kgas(num(t.gasUsed))} gas · reads ${t.reads}, writes ${t.writes}${waits ? `<ul class="keys">${waits}</ul>` : " · waited on nothing"}`;
    });
  }

  async function tx(hash) {
    const [t, r, set, status] = await batch([["eth_getTransactionByHash", hash], ["eth_getTransactionReceipt", hash], ["lanes_getTransactionSet", hash], ["lanes_transactionStatus", hash]]);
    if (!t) throw new Error(`transaction ${hash} not found${status ? ` (${status.status}${status.reason ? ": " + status.reason : ""})` : ""}`);
    const mined = r && t.blockNumber;
    // One trace at a time: a node with few cores runs one expensive call at
    // once and refuses one that waits too long, as a batch's others would.
    const tracers = [{ tracer: "callTracer" }, { tracer: "prestateTracer", tracerConfig: { diffMode: true } }, { tracer: "prestateTracer" }];
    const traces = [];
    if (mined) for (const config of tracers) traces.push((await batch([["debug_traceTransaction", hash, config]]))[0]);
    const [calls = null, diff = null, touched = null] = traces;
    const logs = r ? r.logs : [];
    const callIds = [];
    (function walk(c) { if (!c) return; callIds.push((c.input || "").slice(0, 10)); (c.calls || []).forEach(walk); })(calls);
    await learnSignatures([(t.input || "").slice(0, 10), ...callIds, ...logs.map((l) => l.topics[0])]);
    const addrs = [t.to, ...logs.map((l) => l.address)];
    (function walk(c) { if (!c) return; addrs.push(c.to); (c.calls || []).forEach(walk); })(calls);
    await learnNames(addrs);
    const keyList = (keys, id) => `<ul class="keys" id="${id}">${keys.length ? keys.map((k) => `<li class="key">${keyLabel(k)}</li>`).join("") : '<li class="muted">none</li>'}</ul>`;
    const declared = (t.accessList || []).flatMap((e) => [{ kind: "account", address: e.address }, ...e.storageKeys.map((s) => ({ kind: "storage", address: e.address, slot: s }))]);
    // What it did: written, by the state diff (an account's header where
    // its balance, nonce or code changed); read, what the prestate touched
    // besides.
    const did = { reads: [], writes: [] };
    if (diff && touched) {
      const written = new Set();
      for (const [a, acc] of Object.entries(diff.post || {})) {
        if ("balance" in acc || "nonce" in acc || "code" in acc || !(diff.pre || {})[a]) {
          did.writes.push({ kind: "account", address: a });
          written.add(a.toLowerCase());
        }
        for (const slot of Object.keys(acc.storage || {})) {
          did.writes.push({ kind: "storage", address: a, slot });
          written.add(`${a.toLowerCase()}/${slot}`);
        }
      }
      for (const [a, acc] of Object.entries(diff.pre || {})) {
        for (const slot of Object.keys(acc.storage || {})) {
          if (!written.has(`${a.toLowerCase()}/${slot}`)) { did.writes.push({ kind: "storage", address: a, slot }); written.add(`${a.toLowerCase()}/${slot}`); }
        }
      }
      for (const [a, acc] of Object.entries(touched)) {
        if (!written.has(a.toLowerCase())) did.reads.push({ kind: "account", address: a });
        for (const slot of Object.keys(acc.storage || {})) if (!written.has(`${a.toLowerCase()}/${slot}`)) did.reads.push({ kind: "storage", address: a, slot });
      }
    }
    const cat = set ? category({ source: set.source, run: set.run }, set.exclusive) : null;
    const callTree = (c) => c ? `<li><span class="pill c-${c.error ? "alone" : "known"}">${esc(c.type)}</span> ${addrLink(c.from)} → ${addrLink(c.to)} ${decodeCall(c.input) || (c.input && c.input.length > 2 ? `<span class="mono muted">${c.input.slice(0, 10)}</span>` : "")}${big(c.value) > 0n ? ` · ${eth(c.value)}` : ""} · ${kgas(num(c.gasUsed))} gas${c.error ? ` <span class="bad">${esc(c.error)}</span>` : ""}${c.calls ? `<ul class="tree">${c.calls.map(callTree).join("")}</ul>` : ""}</li>` : "";
    const logRows = logs.map((l) => `<tr><td class="num">${num(l.logIndex)}</td><td>${addrLink(l.address)}</td><td>${decodeLog(l) || `<span class="mono muted">${l.topics.map(short).join(" ")} ${short(l.data)}</span>`}</td></tr>`).join("");
    const waits = set && set.waits.length ? `<ul class="keys">${set.waits.map((w) => `<li>${txLink(w.hash, "#" + w.on)} for ${w.keys.map(keyLabel).join("; ")}</li>`).join("")}</ul>` : '<span class="muted">nothing</span>';
    const fee = r ? big(r.gasUsed) * big(r.effectiveGasPrice) : 0n;
    show(`<h1>Transaction <span class="mono">${short(hash)}</span></h1>
      <dl class="card grid"><dt>Hash</dt><dd class="mono">${t.hash}</dd>
      <dt>Status</dt><dd>${r ? (r.status === "0x1" ? '<span class="ok">success</span>' : '<span class="bad">failed</span>') : `<span class="muted">${esc(status ? status.status : "pending")}</span>`}</dd>
      <dt>Block</dt><dd>${t.blockNumber ? `${blockLink(t.blockNumber)} · position ${num(t.transactionIndex)}` : "pending"}</dd>
      <dt>From</dt><dd>${addrLink(t.from, true)} <span class="muted">nonce ${num(t.nonce)}</span></dd>
      <dt>To</dt><dd>${t.to ? addrLink(t.to, true) : r && r.contractAddress ? `created ${addrLink(r.contractAddress, true)}` : "create"}</dd>
      <dt>Call</dt><dd>${decodeCall(t.input) || `<span class="mono muted">${esc(short(t.input))}</span>`}</dd>
      <dt>Value</dt><dd>${eth(t.value)}</dd>
      ${r ? `<dt>Gas</dt><dd>${group(num(r.gasUsed))} of ${group(num(t.gas))} · fee ${eth(fee)}</dd>` : ""}<dt>Type</dt><dd>${num(t.type)}</dd></dl>
      <h2>Its set</h2>
      ${set ? `<p id="set" data-source="${set.source}">Ran in ${set.exclusive ? "the exclusive lane, alone" : `entry ${set.entry}, lane ${set.lane}`} of ${blockLink(set.blockNumber)} — <span class="pill c-${cat}">${cat}</span> set ${esc(set.source)}${set.run ? `, ${esc(set.run)}` : ""}.</p>
      <div class="cols"><div class="card"><b>Declared</b> <span class="muted">(its access list)</span>${keyList(declared, "declared")}</div>
      <div class="card"><b>Ran under</b> <span class="muted">(${esc(set.source)})</span><br><span class="muted">writes</span>${keyList(set.writes, "set-writes")}<span class="muted">reads</span>${keyList(set.reads, "set-reads")}</div>
      <div class="card"><b>Did</b> <span class="muted">(its prestate and state diff)</span><br><span class="muted">wrote</span>${keyList(did.writes, "did-writes")}<span class="muted">read</span>${keyList(did.reads, "did-reads")}</div></div>
      <h2>Waited on</h2><div class="card">${waits}</div>` : '<p class="muted">Not in a block yet.</p>'}
      ${calls ? `<h2>Call trace</h2><div class="card"><ul class="tree" id="calls">${callTree(calls)}</ul></div>` : ""}
      <h2>Logs</h2>${logs.length ? `<div class="scroll"><table id="logs"><thead><tr><th class="num">#</th><th>Address</th><th>Event</th></tr></thead><tbody>${logRows}</tbody></table></div>` : '<p class="muted">none</p>'}`, "tx");
    ready();
  }

  async function address(a) {
    const [balance, nonce, code, abi, history, creator] = await batch([
      ["eth_getBalance", a, "latest"], ["eth_getTransactionCount", a, "latest"], ["eth_getCode", a, "latest"],
      ["lanes_getContractAbi", a], ["ots_searchTransactionsBefore", a, 0, 25], ["ots_getContractCreator", a],
    ]);
    if (abi) state.names.set(a.toLowerCase(), abi.name);
    const txs = history ? history.txs : [];
    await learnNames(txs.map((t) => t.to));
    await learnSignatures(txs.map((t) => (t.input || "").slice(0, 10)));
    const rcpt = new Map((history ? history.receipts : []).map((r) => [r.transactionHash, r]));
    const fns = abi ? abi.abi.filter((i) => i.type === "function").map((i) => `<li class="mono">${esc(signature(i))}</li>`).join("") : "";
    show(`<h1>${abi ? `${esc(abi.name)} ` : ""}<span class="mono">${esc(a)}</span></h1>
      <dl class="card grid"><dt>Balance</dt><dd>${eth(balance)}</dd><dt>Nonce</dt><dd>${num(nonce)}</dd>
      <dt>Code</dt><dd>${code && code.length > 2 ? `${group((code.length - 2) / 2)} bytes` : "none (an account)"}</dd>
      ${abi ? `<dt>Verified source</dt><dd>${esc(abi.name)} <span class="muted">${esc(abi.artifact)}</span></dd>` : ""}
      ${creator ? `<dt>Created by</dt><dd>${addrLink(creator.creator)} in ${txLink(creator.hash)}</dd>` : ""}</dl>
      ${fns ? `<h2>Functions</h2><ul class="keys">${fns}</ul>` : ""}
      <h2>Transactions</h2>${txs.length ? `<div class="scroll"><table id="addr-txs"><thead><tr><th>Hash</th><th>Block</th><th>From</th><th>To</th><th>Method</th><th class="num">Value</th><th>Status</th></tr></thead><tbody>${
        txs.map((t) => { const r = rcpt.get(t.hash); const m = decodeCall(t.input); return `<tr><td>${txLink(t.hash)}</td><td>${blockLink(t.blockNumber)}</td><td>${addrLink(t.from)}</td><td>${addrLink(t.to)}</td><td>${m ? m.replace(/\(.*$/s, "") : ""}</td><td class="num">${eth(t.value)}</td><td>${r ? (r.status === "0x1" ? '<span class="ok">ok</span>' : '<span class="bad">failed</span>') : ""}</td></tr>`; }).join("")}</tbody></table></div>` : '<p class="muted">none found</p>'}`, "address");
    ready();
  }

  async function search(q) {
    q = q.trim();
    if (/^\d+$/.test(q)) return go(`${BASE}/block/${q}`);
    if (/^0x[0-9a-fA-F]{40}$/.test(q)) return go(`${BASE}/address/${q}`);
    if (/^0x[0-9a-fA-F]{64}$/.test(q)) {
      if (await rpc("eth_getTransactionByHash", q)) return go(`${BASE}/tx/${q}`);
      if (await rpc("eth_getBlockByHash", q, false)) return go(`${BASE}/block/${q}`);
    }
    show(`<div class="err">Nothing found for <span class="mono">${esc(q)}</span>: give a block number, a block or transaction hash, or an address.</div>`, "search");
    ready();
  }

  // ---- live blocks ---------------------------------------------------------------
  let socket = null;
  function listen(onHead) {
    state.listening = onHead;
    if (socket) return;
    const live = document.getElementById("live");
    socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`);
    socket.onopen = () => socket.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
    socket.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.id === 1 && msg.result) { live.textContent = "live"; live.className = "live on"; }
      if (msg.method === "eth_subscription" && state.listening) state.listening(msg.params.result);
    };
    socket.onclose = () => {
      live.textContent = "offline"; live.className = "live off"; socket = null;
      setTimeout(() => listen(state.listening), 2000);
    };
  }

  // ---- routing -------------------------------------------------------------------
  async function route() {
    window.explorer.ready = false;
    delete document.body.dataset.ready;
    state.listening = null;
    const parts = location.pathname.slice(BASE.length).split("/").filter(Boolean).map(decodeURIComponent);
    show('<p class="muted">Loading…</p>', "loading");
    try {
      if (parts.length === 0) await home();
      else if (parts[0] === "block" && parts[1]) await block(parts[1]);
      else if (parts[0] === "tx" && parts[1]) await tx(parts[1]);
      else if (parts[0] === "address" && parts[1]) await address(parts[1]);
      else if (parts[0] === "search" && parts[1]) await search(parts[1]);
      else throw new Error(`no view at ${location.pathname}`);
    } catch (e) { fail(e); }
  }
  function go(path) {
    if (path !== location.pathname) history.pushState(null, "", path);
    return route();
  }
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest("a[href]");
    if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey || a.target) return;
    const url = new URL(a.href);
    if (url.origin !== location.origin || !url.pathname.startsWith(BASE)) return;
    ev.preventDefault();
    go(url.pathname);
    window.scrollTo(0, 0);
  });
  window.addEventListener("popstate", route);
  document.getElementById("search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = document.getElementById("q").value;
    if (q.trim()) go(`${BASE}/search/${encodeURIComponent(q.trim())}`);
  });

  // ---- theme -------------------------------------------------------------------------
  const root = document.documentElement;
  const asked = new URLSearchParams(location.search).get("theme");
  let saved = null;
  try { saved = localStorage.getItem("lanes-theme"); } catch (_) { /* private mode */ }
  const theme = asked || saved || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  root.dataset.theme = theme;
  document.getElementById("theme").addEventListener("click", () => {
    root.dataset.theme = root.dataset.theme === "dark" ? "light" : "dark";
    try { localStorage.setItem("lanes-theme", root.dataset.theme); } catch (_) { /* private mode */ }
  });

  route();
  listen(null);
})();
