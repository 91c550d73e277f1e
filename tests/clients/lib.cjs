// Shared by the node-client scripts: an npm client loaded from where
// scripts/install-clients.sh installed it (LANES_NODE_CLIENTS), the check
// every script prints, and the run that exits 1 on a failure.
"use strict";
const path = require("path");

/** `name`, a path under node_modules, from the installed clients. */
function client(name) {
  return require(path.join(process.env.LANES_NODE_CLIENTS, "node_modules", name));
}

/** Throws unless `cond`; prints what held. */
function check(cond, what) {
  if (!cond) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

/** Runs `main`; on an error prints it and exits 1. */
function run(main) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { client, check, run };
