#!/usr/bin/env bash
# The main job on the embedded default (SQLite): seeds a demo department and serves the API.
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec python3 -m uv run --locked voronka demo "$@"
