#!/usr/bin/env bash
# Runs OpenZeppelin Contracts v5.7.0's own Hardhat test suite (mocha, through
# `hardhat test --network ext`) against lanes-validator --dev --hardfork osaka,
# anvil 1.7.1 --hardfork osaka and Hardhat's own node (hardhat 2.28.5, EDR
# over HTTP), one fresh node each, on loopback, and prints per node the
# mocha counts and the wall time, then the tests that pass on anvil or
# hardhat but not on lanes (the goal is none) and the time of the files that
# pass everywhere, lanes' against anvil's (goal ≤ 0.8x) and hardhat's (≤ 1.0x).
#
#   scripts/oz-suite.sh            the full set: 53 files (test/token/ERC20,
#                                  five ERC721 files, test/access, test/proxy,
#                                  test/utils/cryptography, test/finance,
#                                  Governor, TimelockController)
#   scripts/oz-suite.sh --subset   8 files for CI (ERC20, permit, votes,
#                                  vesting, access manager, admin rules,
#                                  trie proofs: time travel, loadFixture
#                                  snapshots, signatures, eth_getProof;
#                                  ~25 s of tests on lanes), lanes alone
#                                  unless OZ_NODES says otherwise
#   OZ_FILES="test/a.test.js ..."  these files instead (paths in the suite)
#   OZ_NODES="lanes anvil hardhat" the nodes, in this order
#   OZ_PER_FILE=1                  one `hardhat test` per file (against the
#                                  same node) instead of one for all files
#   LANES_ARGS, ANVIL_ARGS         more flags for those nodes
#   VALIDATOR=path                 another lanes-validator build
#   FIXTURES=folder                the tarball's folder (default
#                                  ../shared/fixtures/openzeppelin)
#   OZ_REPORT_ONLY=1               print the report again from the last
#                                  run's logs (target/oz/logs)
#
# Needs ../shared/fixtures/openzeppelin/ (the suite's tarball), node 20 and
# npm. Unpacks it into target/oz/contracts (never into the tracked tree),
# runs `npm ci --ignore-scripts` there and installs npm's solc 0.8.35 (solcjs:
# hardhat's native solc download cannot be reached here) into target/oz/solc,
# each once; writes target/oz/contracts/hardhat.lanes.config.js, which
# requires the suite's hardhat.config.js unchanged, points hardhat at that
# solcjs, adds the network `ext` (OZ_NODE_URL) and, when OZ_RESULTS names a
# file, a mocha reporter (target/oz/contracts/lanes-reporter.js) that prints
# as mocha's spec reporter does and appends one JSON line per test, per failed
# hook and per top-level suite's duration to that file. Compiles once (368
# sources and hardhat-exposed's 303 $-contracts: ~4 minutes on 2 cores; kept
# in target/oz/contracts/artifacts). Logs: target/oz/logs/<node>.log (mocha's
# output), <node>.jsonl (the reporter's lines), <node>-node.log (the node's),
# compile.log, table (the counts and wall times).
#
# Figures: passing, failing, pending are mocha's summary lines (a failed
# hook counts as one failure and skips the tests under it, which then count
# nowhere); "wall s" is the whole `hardhat test` run, hardhat's start-up
# (~3-5 s a run, the same for every node) included. A file "passes
# everywhere" when it has no failure and the same number of passing tests on
# every node; its time is the sum of its top-level suites' durations as the
# reporter measures them (tests and hooks, loadFixture's deployments and
# snapshots included; start-up and module loading not). A test that "fails
# only on lanes" passes on anvil or hardhat and did not pass on lanes (failed,
# or skipped by a failed hook). Titles are mocha's full titles; one repeated
# within a file counts once.
#
# The nodes: hardhat's config allows contracts over 24 KiB on its own network
# (allowUnlimitedContractSize: the exposed mocks are larger), so anvil runs
# with --disable-code-size-limit; lanes --dev has no such limit flag. anvil
# runs --silent and hardhat's node with its per-request logging off, both as
# lanes, which logs little by default. hardhat-predeploy installs the ERC-4337
# entry points, permit2 and others with hardhat_setCode on nodes whose
# web3_clientVersion starts with hardhat or anvil (lanes --dev answers
# "anvil/lanes-..."). The suite's config reads any environment variable of
# its option names (yargs .env('')), so those (RUNS, SRC, IR, GAS, ...) are
# cleared for hardhat's runs.
#
# Expect anvil to fail hundreds of tests, differently each run: in automine
# it answers eth_sendTransaction before the block is committed
# (foundry-rs/foundry#3537, #10944), while hardhat-chai-matchers reads the
# receipt, and the tests read state, right after. Hardhat's node fails
# Governor's fixture (two transactions estimated at once, one then runs out
# of gas), so its tests there count nowhere.
set -euo pipefail
cd "$(dirname "$0")/.."

subset=0
[ "${1:-}" = --subset ] && subset=1
validator=${VALIDATOR:-target/release/lanes-validator}
read -r -a lanes_args <<< "${LANES_ARGS:-}"
read -r -a anvil_args <<< "${ANVIL_ARGS:-}"
per_file=${OZ_PER_FILE:-0}
if [ -n "${OZ_NODES:-}" ]; then
    read -r -a nodes <<< "$OZ_NODES"
elif [ "$subset" = 1 ]; then
    nodes=(lanes)
else
    nodes=(lanes anvil hardhat)
fi

fixtures=${FIXTURES:-../shared/fixtures/openzeppelin}
tarball=$fixtures/openzeppelin-contracts-v5.7.0.tar.gz
if [ ! -f "$tarball" ]; then
    echo "$tarball is absent: ../shared/fixtures/openzeppelin/ (../shared beside the checkout) holds OpenZeppelin's suite" >&2
    [ "${LANES_REQUIRE_FIXTURES:-}" = 1 ] && exit 1
    exit 2
fi

oz=target/oz
suite=$oz/contracts
logs=$oz/logs
source scripts/lib.sh
need curl jq python3
if [ "${OZ_REPORT_ONLY:-}" != 1 ]; then
command -v npm > /dev/null || { echo "this script needs node 20 and npm" >&2; exit 2; }
[ -x "$validator" ] || cargo build --release --bin lanes-validator >&2
for n in "${nodes[@]}"; do [ "$n" = anvil ] && install_anvil; done
mkdir -p "$logs"
secs() { date +%s.%N; }

# The suite, its packages and solcjs, once each.
if [ ! -f "$suite/hardhat.config.js" ]; then
    mkdir -p "$suite"
    tar -xzf "$tarball" -C "$suite"
fi
if [ ! -d "$suite/node_modules" ]; then
    echo "npm ci in $suite" >&2
    t0=$(secs)
    (cd "$suite" && npm ci --ignore-scripts --no-audit --no-fund) >&2
    echo "npm ci took $(python3 -c "print(round($(secs) - $t0))") s" >&2
fi
if [ ! -f "$oz/solc/node_modules/solc/soljson.js" ]; then
    mkdir -p "$oz/solc"
    printf '{"name":"oz-solc","private":true}\n' > "$oz/solc/package.json"
    npm install --prefix "$oz/solc" --no-audit --no-fund solc@0.8.35 >&2
fi

cat > "$suite/hardhat.lanes.config.js" <<'EOF'
// Written by lanes' scripts/oz-suite.sh: the suite's config, unchanged, plus
// npm's solcjs 0.8.35 as the compiler, the network `ext` and a reporter.
const path = require('path');
const { subtask } = require('hardhat/config');
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require('hardhat/builtin-tasks/task-names');
const config = require('./hardhat.config.js');

const solc = path.join(__dirname, '..', 'solc', 'node_modules', 'solc');
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async ({ solcVersion }, _, runSuper) => {
  if (solcVersion !== '0.8.35') return runSuper();
  return {
    compilerPath: path.join(solc, 'soljson.js'),
    isSolcJs: true,
    version: solcVersion,
    longVersion: require(solc).version(),
  };
});

config.networks.ext = { url: process.env.OZ_NODE_URL || 'http://127.0.0.1:8545', timeout: 600000 };
config.networks.hardhat.loggingEnabled = process.env.OZ_HARDHAT_LOGGING === '1';
if (process.env.OZ_RESULTS) {
  config.mocha = { ...config.mocha, reporter: path.join(__dirname, 'lanes-reporter.js') };
}
module.exports = config;
EOF
cat > "$suite/lanes-reporter.js" <<'EOF'
// Written by lanes' scripts/oz-suite.sh: mocha's spec output, plus one JSON
// line per test, failed hook and top-level suite appended to $OZ_RESULTS.
const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');
const Mocha = require('mocha');
const { EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_SUITE_BEGIN, EVENT_SUITE_END } =
  Mocha.Runner.constants;

const fileOf = runnable => {
  for (let r = runnable; r; r = r.parent) if (r.file) return path.relative(process.cwd(), r.file);
  return '';
};
const firstLine = err => String((err && (err.message || err)) || '').split('\n')[0].slice(0, 300);

class LanesReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const write = o => fs.appendFileSync(process.env.OZ_RESULTS, JSON.stringify(o) + '\n');
    const started = new Map();
    runner.on(EVENT_SUITE_BEGIN, s => {
      if (s.parent && s.parent.root) started.set(s, performance.now());
    });
    runner.on(EVENT_SUITE_END, s => {
      if (started.has(s)) write({ kind: 'suite', file: fileOf(s), ms: performance.now() - started.get(s) });
    });
    const test = (state, t, err) => {
      const o = { kind: t.type === 'hook' ? 'hook' : 'test', state, file: fileOf(t), title: t.fullTitle() };
      if (t.type === 'hook') o.suite = t.parent ? t.parent.fullTitle() : '';
      if (t.duration !== undefined) o.ms = t.duration;
      if (err) o.err = firstLine(err);
      write(o);
    };
    runner.on(EVENT_TEST_PASS, t => test('passed', t));
    runner.on(EVENT_TEST_FAIL, (t, err) => test('failed', t, err));
    runner.on(EVENT_TEST_PENDING, t => test('pending', t));
  }
}
module.exports = LanesReporter;
EOF

# The suite's config reads these (yargs .env('')): keep them out of its runs.
hh() {
    (cd "$suite" && exec env -u COMPILER -u COMPILE_VERSION -u SRC -u SOURCE -u RUNS \
        -u OPTIMIZATION_RUNS -u IR -u ENABLE_IR -u EVM -u EVM_VERSION -u COVERAGE \
        -u GAS -u ENABLE_GAS_REPORT node_modules/.bin/hardhat --config hardhat.lanes.config.js "$@")
}

if [ ! -d "$suite/artifacts/contracts" ]; then
    echo "compiling the suite (~4 minutes on 2 cores)" >&2
    t0=$(secs)
    hh compile > "$logs/compile.log" 2>&1 || { tail -30 "$logs/compile.log" >&2; exit 1; }
    echo "compiling took $(python3 -c "print(round($(secs) - $t0))") s" >&2
fi

# The files, as paths within the suite.
if [ -n "${OZ_FILES:-}" ]; then
    read -r -a files <<< "$OZ_FILES"
elif [ "$subset" = 1 ]; then
    files=(test/token/ERC20/ERC20.test.js test/token/ERC20/extensions/ERC20Permit.test.js
        test/token/ERC20/extensions/ERC20Votes.test.js test/finance/VestingWallet.test.js
        test/access/manager/AccessManaged.test.js test/access/Ownable2Step.test.js
        test/utils/cryptography/TrieProof.test.js
        test/access/extensions/AccessControlDefaultAdminRules.test.js)
else
    mapfile -t files < <(cd "$suite" && {
        find test/token/ERC20 test/access test/utils/cryptography test/proxy test/finance -name '*.test.js'
        printf '%s\n' test/token/ERC721/ERC721.test.js test/token/ERC721/ERC721Enumerable.test.js \
            test/token/ERC721/extensions/ERC721Burnable.test.js \
            test/token/ERC721/extensions/ERC721Pausable.test.js \
            test/token/ERC721/extensions/ERC721URIStorage.test.js \
            test/governance/Governor.test.js test/governance/TimelockController.test.js
    } | sort)
fi
for f in "${files[@]}"; do
    [ -f "$suite/$f" ] || { echo "$suite/$f is absent" >&2; exit 1; }
done
echo "${#files[@]} files; nodes: ${nodes[*]}" >&2

start_node() {
    local port=$2
    case $1 in
    lanes)
        "$validator" --dev --hardfork osaka --data-dir "$tmp/lanes" \
            --rpc-addr "127.0.0.1:$port" "${lanes_args[@]}" > "$logs/lanes-node.log" 2>&1 &
        ;;
    anvil)
        "$anvil" --hardfork osaka --port "$port" --silent --disable-code-size-limit \
            "${anvil_args[@]}" > "$logs/anvil-node.log" 2>&1 &
        ;;
    hardhat)
        hh node --port "$port" > "$logs/hardhat-node.log" 2>&1 &
        ;;
    *) echo "unknown node $1 (lanes, anvil or hardhat)" >&2; exit 2 ;;
    esac
    node_pid=$!
    wait_for "$port"
}

: > "$logs/table"
for n in "${nodes[@]}"; do
    port=$(free_port)
    rm -rf "$tmp/lanes"
    start_node "$n" "$port"
    echo "$n: $(rpc "$port" web3_clientVersion) on port $port" >&2
    log=$logs/$n.log
    : > "$log"
    : > "$logs/$n.jsonl"
    t0=$(secs)
    if [ "$per_file" = 1 ]; then
        for f in "${files[@]}"; do
            OZ_NODE_URL=http://127.0.0.1:$port OZ_RESULTS=$PWD/$logs/$n.jsonl \
                hh test --network ext --no-compile "$f" >> "$log" 2>&1 || true
        done
    else
        OZ_NODE_URL=http://127.0.0.1:$port OZ_RESULTS=$PWD/$logs/$n.jsonl \
            hh test --network ext --no-compile "${files[@]}" >> "$log" 2>&1 || true
    fi
    wall=$(python3 -c "print(f'{$(secs) - $t0:.1f}')")
    stop_node
    # mocha's summary lines (summed over the runs with OZ_PER_FILE=1)
    count() { { grep -aE "^ +[0-9]+ $1" "$log" || true; } | awk '{s += $1} END {print s + 0}'; }
    printf '%s %s %s %s %s\n' "$n" "$(count passing)" "$(count failing)" "$(count pending)" "$wall" >> "$logs/table"
    echo "$n done in $wall s: $(count passing) passing, $(count failing) failing" >&2
done
fi

python3 - "$logs" "$logs/table" <<'EOF'
import json, sys
from collections import defaultdict

logs, table = sys.argv[1], sys.argv[2]
rows = [line.split() for line in open(table)]
print()
print(f"{'node':<8} | {'passing':>7} | {'failing':>7} | {'pending':>7} | {'wall s':>7}")
print(f"{'-' * 8}-+-{'-' * 7}-+-{'-' * 7}-+-{'-' * 7}-+-{'-' * 7}")
for n, p, f, k, w in rows:
    print(f"{n:<8} | {p:>7} | {f:>7} | {k:>7} | {w:>7}")

runs = {}
for n, *_ in rows:
    r = {"passed": set(), "failed": {}, "hooks": [], "suite_ms": defaultdict(float),
         "file_pass": defaultdict(int), "file_fail": defaultdict(int)}
    for line in open(f"{logs}/{n}.jsonl"):
        o = json.loads(line)
        if o["kind"] == "suite":
            r["suite_ms"][o["file"]] += o["ms"]
        elif o["kind"] == "hook":
            r["hooks"].append(o)
            r["file_fail"][o["file"]] += 1
        elif o["state"] == "passed":
            r["passed"].add((o["file"], o["title"]))
            r["file_pass"][o["file"]] += 1
        elif o["state"] == "failed":
            r["failed"][(o["file"], o["title"])] = o.get("err", "")
            r["file_fail"][o["file"]] += 1
    runs[n] = r

if "lanes" in runs and len(runs) > 1:
    lanes = runs["lanes"]
    elsewhere = set().union(*(r["passed"] for n, r in runs.items() if n != "lanes"))
    only = sorted(elsewhere - lanes["passed"])

    def why(key):
        if key in lanes["failed"]:
            return lanes["failed"][key]
        file, title = key
        for h in lanes["hooks"]:
            if h["file"] == file and title.startswith(h["suite"]):
                return f"not run: {h['title']}: {h['err']}"
        return "not run"

    print(f"\ntests that pass on {' or '.join(n for n in runs if n != 'lanes')} but not on lanes: {len(only)} (goal 0)")
    for key in only[:50]:
        print(f"  {key[0]}: {key[1]}\n      {why(key)}")
    if len(only) > 50:
        print(f"  ... and {len(only) - 50} more (target/oz/logs/lanes.jsonl)")

files = set().union(*(r["suite_ms"].keys() for r in runs.values()))


def clean(among):
    """The files with no failure and the same passing count on these runs."""
    return sorted(f for f in files
                  if all(r["file_fail"][f] == 0 and f in r["suite_ms"] for r in among)
                  and len({r["file_pass"][f] for r in among}) == 1 and among[0]["file_pass"][f] > 0)


def time_of(r, fs):
    return sum(r["suite_ms"][f] for f in fs) / 1000


everywhere = clean(list(runs.values()))
print(f"\nfiles that pass everywhere: {len(everywhere)} of {len(files)}; their time (s): "
      + ", ".join(f"{n} {time_of(r, everywhere):.1f}" for n, r in runs.items()))
goals = {"anvil": 0.8, "hardhat": 1.0}
if "lanes" in runs:
    lanes = runs["lanes"]
    for n, goal in goals.items():
        if n in runs and time_of(runs[n], everywhere) > 0:
            ratio = time_of(lanes, everywhere) / time_of(runs[n], everywhere)
            pair = clean([lanes, runs[n]])
            both = time_of(lanes, pair) / max(time_of(runs[n], pair), 1e-9)
            print(f"  lanes / {n}: {ratio:.2f}x (goal <= {goal}x); "
                  f"over the {len(pair)} files that pass on both: {both:.2f}x")
EOF

# The subset is a gate (.ci/run): every test of it passes on lanes.
if [ "$subset" = 1 ]; then
    read -r passing failing < <(awk '$1 == "lanes" {print $2, $3}' "$logs/table")
    if [ "${failing:-1}" != 0 ] || [ "${passing:-0}" = 0 ]; then
        echo "the subset failed on lanes: ${passing:-0} passing, ${failing:-?} failing (target/oz/logs/lanes.log)" >&2
        exit 1
    fi
fi
