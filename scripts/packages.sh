#!/usr/bin/env bash
# The Debian packages the tests start or run — NATS, the registry, valgrind — installed in one apt call
# when any is missing, behind the lock the tests' own installer takes (`pathsec_lab::ensure_packages`,
# the same file), so a test that needs one waits for this instead of starting a second apt. `.ci/run`
# starts it in the background while cargo compiles.
#   bash scripts/packages.sh
set -euo pipefail
declare -A programs=(
  [/usr/sbin/nats-server]=nats-server
  [/usr/bin/docker-registry]=docker-registry
  [/usr/bin/valgrind]=valgrind
)
missing() { for path in "${!programs[@]}"; do [[ -e $path ]] || echo "${programs[$path]}"; done; }
[[ -z $(missing) ]] && exit 0
exec 9>"${TMPDIR:-/tmp}/pathsec-lab-install.lock"
flock 9
mapfile -t wanted < <(missing)
((${#wanted[@]})) || exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${wanted[@]}"
# Debian starts the packaged registry as a service where it can; the tests run their own.
systemctl disable --now docker-registry >/dev/null 2>&1 || true
echo "packages.sh: installed ${wanted[*]}"
