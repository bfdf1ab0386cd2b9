#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the Python environment, starts PostgreSQL and
# Apache Kafka on loopback (scripts/services.sh), then runs pytest once per database backend.
set -euo pipefail
source "$(dirname "$0")/env.sh"
eval "$(bash scripts/services.sh start)"
for backend in ${VORONKA_TEST_BACKENDS:-sqlite postgres}; do
    echo "== tests on ${backend} ==" >&2
    VORONKA_TEST_BACKEND="$backend" python3 -m uv run --locked pytest "$@"
done
