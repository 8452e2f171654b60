#!/usr/bin/env bash
# Where the project's installed tools live: outside the clone, one directory per tool and version, so a
# second clone (or a CI run after the first) reuses them. Sourced by the scripts that install tools; the
# Rust side (`pathsec_lab::tool_cache`, `tests/lab`) follows the same rule:
#   $PATHSEC_CACHE, else $XDG_CACHE_HOME/pathsec, else ~/.cache/pathsec — then tools/<tool>-<version>.
pathsec_tools="${PATHSEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pathsec}/tools"
mkdir -p "$pathsec_tools"
