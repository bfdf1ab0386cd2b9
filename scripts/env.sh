#!/usr/bin/env bash
# Installs the pinned Python environment (uv + uv.lock). Sourced by the other scripts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! python3 -m uv --version >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check uv
fi
python3 -m uv sync --locked --quiet
