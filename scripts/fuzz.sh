#!/usr/bin/env bash
# Fuzzes every target in fuzz/ (cargo fuzz with libFuzzer, on stable Rust:
# no sanitizer) for FUZZ_SECONDS each. Each target starts from its committed
# seeds (fuzz/seeds/<target>) copied into fuzz/corpus/<target>, which keeps
# what the runs add (ignored by git); crashes land in fuzz/artifacts/<target>.
# The last line is `fuzz: T targets, E execs, C crashes`; it exits non-zero
# if any target crashed (or failed to run).
#
#   scripts/fuzz.sh                          (FUZZ_SECONDS=60, every target)
#   FUZZ_SECONDS=600 FUZZ_TARGETS="tx_decode block_replay" scripts/fuzz.sh
#   LANES_FUZZ_STRICT_ERRORS=1 scripts/fuzz.sh   (every open error must name
#                                file and offset: see the storage targets)
#
# A crash reproduces with
#   (cd fuzz && cargo fuzz run -s none TARGET artifacts/TARGET/crash-...)
# and becomes a regression test in tests/it/fuzz_regressions.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
read -ra targets <<< "${FUZZ_TARGETS:-tx_decode rpc_params ledger_records accounts_db_recovery index_checkpoint block_replay chain_import}"
# No sanitizer (stable Rust cannot build one); 16 codegen units build
# revm and alloy in minutes on two cores instead of much longer.
build_flags=(-s none --codegen-units 16)

if ! command -v c++ > /dev/null; then
    echo "fuzz: installing g++ (libfuzzer-sys builds libFuzzer with it)" >&2
    if ! { apt-get install -y -qq g++ || { apt-get update -qq && apt-get install -y -qq g++; }; } > /dev/null 2>&1; then
        echo "fuzz: libFuzzer (built by the libfuzzer-sys crate) needs a C++ compiler: apt-get install g++" >&2
        exit 2
    fi
fi
if ! cargo fuzz --version > /dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    if ! cargo install cargo-fuzz --locked >&2; then
        echo "fuzz: needs cargo-fuzz: \`cargo install cargo-fuzz --locked\` failed" >&2
        exit 2
    fi
fi

cd fuzz
for t in "${targets[@]}"; do
    echo "fuzz: building $t" >&2
    cargo fuzz build "${build_flags[@]}" "$t" >&2
done

artifacts() { find "artifacts/$1" -type f 2> /dev/null | wc -l; }

total_execs=0
total_crashes=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    if [ -d "seeds/$t" ]; then
        cp -n "seeds/$t"/* "corpus/$t"/ 2> /dev/null || true
    fi
    # chain_import starts from real blocks: the RLP of the blockchain tests'
    # blocks in ../shared/fixtures (read there, kept only in the ignored corpus).
    tests=../../shared/fixtures/ethereum-tests/BlockchainTests
    if [ "$t" = chain_import ] && [ -d "$tests" ]; then
        # (`head` closes the pipe early: no pipefail here.)
        (
            set +o pipefail
            find "$tests" -name '*.json' | head -n 200 | xargs grep -ho '"rlp" *: *"0x[0-9a-f]*"' 2> /dev/null \
                | sed 's/.*"0x\([0-9a-f]*\)"/\1/' | head -n 300 | while read -r hex; do
                printf '%s' "$hex" | xxd -r -p > "corpus/$t/seed-$(printf '%s' "$hex" | md5sum | cut -c1-16)"
            done
        ) || true
    fi
    before=$(artifacts "$t")
    log="artifacts/$t.log"
    echo "fuzz: running $t for ${seconds}s" >&2
    # libFuzzer exits 0 when time is up, non-zero on a crash, a timeout or an
    # out-of-memory (cargo fuzz passes that on): the artifacts and the final
    # stats say which, so the status is only kept for the report.
    status=0
    cargo fuzz run "${build_flags[@]}" "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=120 \
        -rss_limit_mb=4096 -close_fd_mask=1 > "$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    if [ -z "$execs" ]; then
        # No final stats (killed hard): the last progress line's count.
        execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    fi
    execs=${execs:-0}
    crashes=$(($(artifacts "$t") - before))
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        echo "fuzz: $t exited with status $status and left no artifact; see fuzz/$log" >&2
        tail -n 20 "$log" >&2
        crashes=1
    elif [ "$crashes" -gt 0 ]; then
        echo "fuzz: $t crashed; see fuzz/$log and fuzz/artifacts/$t" >&2
        grep -m 5 -A 3 "panicked at\|ERROR: libFuzzer" "$log" >&2 || true
    fi
    echo "fuzz: $t: $execs execs, $crashes crashes" >&2
    total_execs=$((total_execs + execs))
    total_crashes=$((total_crashes + crashes))
done

echo "fuzz: ${#targets[@]} targets, $total_execs execs, $total_crashes crashes"
[ "$total_crashes" -eq 0 ]
