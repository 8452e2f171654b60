#!/usr/bin/env bash
# Load on `pathsec serve` from second processes on loopback: wrk (HTTP, Debian's package) and the
# in-repo gRPC load generator (host/serve/examples/grpc_load.rs), single decisions and batches of 16,
# 1 and 2 client connections per core. During every run the device facts change every 50 ms and the
# policy is swapped once mid-run. A run passes with 0 errors and 0 failed decisions (no policy fault,
# no refused call): read off wrk, the generator and /metrics.
#   bash benches/serve_load.sh [seconds]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-10}"
command -v wrk >/dev/null || { sudo -n true 2>/dev/null && sudo apt-get install -y wrk || apt-get install -y wrk; }
cd "$root"
cargo build --release -q -p pathsec-cli
cargo build --release -q -p pathsec-serve --example grpc_load
work="$(mktemp -d)"
trap 'kill "$daemon" 2>/dev/null || true; rm -rf "$work"' EXIT
token="load-test-admin-token-0123456789"
port=$((20000 + RANDOM % 20000))
cat >"$work/pathsec.toml" <<TOML
[listen]
tcp = "127.0.0.1:$port"
admin-token = "$token"
max-connections = 4096
[policy]
bundled = "reference"
[facts]
file = "$root/examples/serve/facts.toml"
TOML
target/release/pathsec serve --config "$work/pathsec.toml" >"$work/daemon.out" 2>&1 &
daemon=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.1; done
policy="$(ls target/pathsec-guests/wasm32-wasip2/release/reference.wasm)"
cores="$(nproc)"

churn() {
  # Fact updates every 50 ms, and one policy swap halfway.
  local end=$((SECONDS + seconds)) half=$((SECONDS + seconds / 2)) swapped=0 on=true
  while (( SECONDS < end )); do
    curl -fs -X PUT "$base/v1/devices/tracker-9" -H "Authorization: Bearer $token" \
      -d "{\"home\":\"310410\",\"serving\":\"20801\",\"ciphering\":$on,\"integrity\":true}" >/dev/null
    if [[ $on == true ]]; then on=false; else on=true; fi
    if (( swapped == 0 && SECONDS >= half )); then
      curl -fs -X PUT "$base/v1/policy/reference" -H "Authorization: Bearer $token" \
        -H "Content-Type: application/wasm" --data-binary "@$policy" >/dev/null
      swapped=1
    fi
    sleep 0.05
  done
}

faults() {
  curl -fs "$base/metrics" | awk '/^pathsec_policy_faults_total/ {s += $2} END {print s + 0}'
}
refused() {
  curl -fs "$base/metrics" | awk '/^pathsec_serve_requests_total/ && !/outcome="ok"/ {s += $2} END {print s + 0}'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for per_core in 1 2; do
  connections=$((cores * per_core))
  for kind in decide batch; do
    churn & churner=$!
    echo "== http $kind, $connections connections"
    wrk -t "$cores" -c "$connections" -d "${seconds}s" --latency -s "benches/serve/$kind.lua" "$base" \
      | grep -E "Requests/sec|50%|99%|non-200|Socket errors"
    wait "$churner"
    churn & churner=$!
    echo "== grpc $kind, $connections connections"
    target/release/examples/grpc_load "$base" "$connections" "$seconds" "$([[ $kind == batch ]] && echo 16 || echo 1)"
    wait "$churner"
  done
done
echo "policy faults: $(faults); refused calls: $(refused); swaps: $(curl -fs "$base/metrics" | awk '/^pathsec_policy_swaps_total/ {print $2}')"
