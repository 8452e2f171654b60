#!/usr/bin/env bash
# Builds the Python reference policy (guest-policies/python/reference/app.py) into a component, with
# componentize-py from PyPI installed into the project-local tool directory `.tools/python`.
#
#   scripts/build-python-policy.sh [OUTPUT]      (default: target/python-policies/reference-py.wasm)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.25.1
TOOLS=.tools/python
OUTPUT=${1:-target/python-policies/reference-py.wasm}

if ! "$TOOLS/bin/componentize-py" --version 2>/dev/null | grep -q "$VERSION"; then
    echo "installing componentize-py $VERSION into $TOOLS" >&2
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$VERSION"
fi

mkdir -p "$(dirname "$OUTPUT")"
"$TOOLS/bin/componentize-py" -d wit -w path-secure componentize -p guest-policies/python/reference app -o "$OUTPUT.tmp"
mv "$OUTPUT.tmp" "$OUTPUT"
echo "built $OUTPUT" >&2
