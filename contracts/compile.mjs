// Compiles every contracts/*.sol with solc's standard JSON API and writes
// contracts/artifacts/<ContractName>.json. Run through contracts/compile.sh,
// which installs solc and sets SOLC_MODULE / SOLC_VERSION.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const artifactsDir = path.join(here, 'artifacts');
const expectedVersion = process.env.SOLC_VERSION ?? '0.8.37';
const solcModule = process.env.SOLC_MODULE ?? path.join(here, '.solc', 'node_modules', 'solc');

const require = createRequire(import.meta.url);
const solc = require(solcModule);

const compilerVersion = solc.version(); // e.g. "0.8.37+commit.xxxxxxxx.Emscripten.clang"
if (!compilerVersion.startsWith(`${expectedVersion}+`)) {
  console.error(`error: expected solc ${expectedVersion}, got ${compilerVersion}`);
  process.exit(1);
}

// The settings recorded in every artifact. Cancun bytecode runs on Cancun and Prague.
const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
};

// Source names are relative to contracts/ so the metadata hash (and thus the
// bytecode) does not depend on where the repository is checked out.
const files = fs
  .readdirSync(here)
  .filter((f) => f.endsWith('.sol'))
  .sort();
if (files.length === 0) {
  console.error(`error: no .sol files in ${here}`);
  process.exit(1);
}

const sources = {};
for (const f of files) {
  sources[f] = { content: fs.readFileSync(path.join(here, f), 'utf8') };
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    ...settings,
    outputSelection: {
      '*': {
        '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'storageLayout'],
      },
    },
  },
};

// Imports resolve relative to contracts/ only.
function findImports(importPath) {
  const p = path.resolve(here, importPath);
  if (!p.startsWith(here + path.sep) || !fs.existsSync(p)) {
    return { error: `import not found: ${importPath}` };
  }
  return { contents: fs.readFileSync(p, 'utf8') };
}

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

let failed = false;
for (const e of output.errors ?? []) {
  console.error(e.formattedMessage ?? e.message);
  if (e.severity === 'error') failed = true;
}
if (failed) process.exit(1);

fs.mkdirSync(artifactsDir, { recursive: true });

const seen = new Map();
for (const sourceName of Object.keys(output.contracts ?? {}).sort()) {
  const contracts = output.contracts[sourceName];
  for (const contractName of Object.keys(contracts).sort()) {
    if (seen.has(contractName)) {
      console.error(
        `error: contract ${contractName} is defined in both ${seen.get(contractName)} and ${sourceName}`,
      );
      process.exit(1);
    }
    seen.set(contractName, sourceName);

    const c = contracts[contractName];
    // Interfaces compile to no code: they need no artifact.
    if (c.evm.bytecode.object === '') continue;
    const artifact = {
      contractName,
      sourceName,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      storageLayout: c.storageLayout,
      compiler: `solc ${expectedVersion}`,
      compilerLongVersion: compilerVersion,
      settings,
    };
    const out = path.join(artifactsDir, `${contractName}.json`);
    fs.writeFileSync(out, JSON.stringify(artifact, null, 2) + '\n');
    const codeBytes = (artifact.bytecode.length - 2) / 2;
    const runtimeBytes = (artifact.deployedBytecode.length - 2) / 2;
    console.log(
      `${path.relative(process.cwd(), out)}: bytecode ${codeBytes} bytes, deployedBytecode ${runtimeBytes} bytes`,
    );
  }
}
