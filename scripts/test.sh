#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what it needs, then pytest.
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec python3 -m uv run --locked pytest "$@"
