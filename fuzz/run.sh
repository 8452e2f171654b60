#!/usr/bin/env bash
# Runs every fuzz target for a bounded time each (default 60 s):
#   bash fuzz/run.sh [seconds-per-target] [target…]
# Installs cargo-fuzz (from crates.io) when it is missing; libFuzzer needs the nightly toolchain.
# A crash stops the run with libFuzzer's report; its input is saved under fuzz/artifacts/<target>/.
# Turn it into a regression test in tests/fuzz_regressions.rs (the inputs found so far are there).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(identifiers facts_file case_file wire service_request)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
for target in "${targets[@]}"; do cargo +nightly fuzz build -O "$target"; done
mkdir -p logs
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  # Seeds: the repository's own facts, request and case files.
  seeds=()
  case $target in
    identifiers) ;;
    wire) seeds=(../tests/fuzz/wire) ;;
    service_request) seeds=(../tests/fuzz/service_request ../tests/data) ;;
    *) seeds=(../tests/data ../tests/cases) ;;
  esac
  echo "== $target: ${seconds}s (log: fuzz/logs/$target.log)"
  if ! cargo +nightly fuzz run -O "$target" "corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 >"logs/$target.log" 2>&1; then
    tail -40 "logs/$target.log" >&2
    echo "fuzz/run.sh: \`$target\` found a failure: its input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^(Done |stat::number_of_executed_units|stat::peak_rss_mb)' "logs/$target.log"
done
