#!/usr/bin/env bash
# The project's Python tools, in a virtual environment under target/tools/python: requests (the service guide's
# client examples and tests/client.py), prometheus-client (its OpenMetrics parser checks /metrics) and
# schemathesis (fuzzes the daemon against openapi.json). Versions pinned; made once, behind a lock, so
# parallel tests share one install. Needs python3 with venv and pip (PyPI).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/target/tools/python"
stamp="$venv/.pathsec-tools-1"
mkdir -p "$root/target/tools"
exec 9>"$root/target/tools/python.lock"
flock 9
if [[ -f "$stamp" ]]; then
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "requests==2.34.2" "prometheus-client==0.26.0" "schemathesis==4.32.5"
touch "$stamp"
