#!/usr/bin/env bash
# Counts instructions on one hot path with callgrind (repeatable on a noisy machine, unlike time):
#   bash benches/profile.sh <batch|miss|hit|constant|scalar-constant|constant-batch|native|devices|c-batch|c-miss|shadow-…> [iterations]
# (`shadow-batch`, `shadow-miss`, `shadow-hit`: the same with a shadow deciding at every miss;
# `log-batch`, `log-miss`, `log-hit`: the same with a decision log to a file.)
# Prints the functions by their own instruction count, inside the measured call only (setup and
# compilation are not counted). WebAssembly code shows as `???:0x…` addresses; `pathsec compile` a
# policy and `objdump -d` its artifact to see which function an address is (same offsets from the
# start of the code).
set -euo pipefail
cd "$(dirname "$0")/.."
subject=${1:?name a subject: batch, miss, hit, constant, scalar-constant, constant-batch, native, devices, c-batch, c-miss, shadow-batch, shadow-miss or shadow-hit}
iterations=${2:-2000}
case $subject in
  batch | shadow-batch | log-batch) entry='pathsec::deciding::worker::Worker::decide_batch' ;;
  miss | hit | shadow-miss | shadow-hit | log-miss | log-hit) entry='pathsec::deciding::worker::Worker::decide' ;;
  constant | scalar-constant) entry='pathsec::wasm::decider::Decider::decide' ;;
  native) entry='pathsec_suite::native::NativeRule::decide' ;;
  devices) entry='profile::fill' ;;
  constant-batch) entry='pathsec::wasm::decider::Decider::decide_batch' ;;
  c-batch) entry='pathsec_worker_decide_batch' ;;
  c-miss) entry='pathsec_worker_decide' ;;
  *) echo "profile.sh: \`$subject\` is not a subject" >&2; exit 2 ;;
esac
command -v valgrind >/dev/null || { echo "profile.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
cargo build --release -p pathsec-benches --bin profile
out=$(mktemp -t "callgrind.$subject.XXXX")
valgrind --tool=callgrind --toggle-collect="$entry" --callgrind-out-file="$out" \
  "${CARGO_TARGET_DIR:-target}/release/profile" "$subject" "$iterations" 2>&1 | grep -E 'Collected' || true
total=$(callgrind_annotate "$out" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
# A renamed or inlined entry point collects nothing: fail instead of reporting zero.
if [[ -z $total || $total == 0 ]]; then
  echo "profile.sh: callgrind counted nothing inside \`$entry\`: was it renamed or inlined? update the entry above" >&2
  exit 1
fi
per=$iterations
[[ $subject == *batch ]] && per=$((iterations * 64))
echo "$total instructions in $entry: $((total / per)) per decision"
callgrind_annotate "$out" | sed -n '/^Ir /,$p' | head -30
echo "(full profile: $out; callgrind_annotate --auto=yes $out for per-line counts)"
