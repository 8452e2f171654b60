#!/usr/bin/env bash
# The project's Python tools, in a virtual environment in the tool cache outside the clone
# (scripts/tool-cache.sh), one per set of pins: requests (the service guide's client examples and
# tests/client.py), prometheus-client (its OpenMetrics parser checks /metrics) and schemathesis (fuzzes
# the daemon against openapi.json). Made once, behind a lock, so parallel tests and later clones share
# one install. Prints the environment's directory. Needs python3 with venv and pip (PyPI).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/tool-cache.sh"
pins=("requests==2.34.2" "prometheus-client==0.26.0" "schemathesis==4.32.5")
key="$(printf '%s\n' "${pins[@]}" | sha256sum | cut -c1-12)"
venv="$pathsec_tools/python-tools-$key"
exec 9>"$venv.lock"
flock 9
if [[ ! -f "$venv/.complete" ]]; then
  echo "installing ${pins[*]} into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}" >&2
  touch "$venv/.complete"
fi
echo "$venv"
