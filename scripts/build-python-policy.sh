#!/usr/bin/env bash
# Builds the Python reference policy (guest-policies/python/reference/app.py) into a component, with
# componentize-py from PyPI installed into the tool cache outside the clone (scripts/tool-cache.sh),
# once per version, behind a lock.
#
#   scripts/build-python-policy.sh [OUTPUT]      (default: target/python-policies/reference-py.wasm)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tool-cache.sh

VERSION=0.25.1
TOOLS="$pathsec_tools/componentize-py-$VERSION"
OUTPUT=${1:-target/python-policies/reference-py.wasm}

exec 9>"$TOOLS.lock"
flock 9
if [[ ! -f "$TOOLS/.complete" ]]; then
    echo "installing componentize-py $VERSION into $TOOLS" >&2
    rm -rf "$TOOLS"
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$VERSION"
    touch "$TOOLS/.complete"
fi
flock -u 9

mkdir -p "$(dirname "$OUTPUT")"
"$TOOLS/bin/componentize-py" -d wit -w path-secure componentize -p guest-policies/python/reference app -o "$OUTPUT.tmp"
mv "$OUTPUT.tmp" "$OUTPUT"
echo "built $OUTPUT" >&2
