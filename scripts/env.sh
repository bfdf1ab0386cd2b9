#!/usr/bin/env bash
# Installs the pinned Python environment (uv + uv.lock). Sourced by the other scripts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! python3 -m uv --version >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check uv
fi
python3 -m uv sync --locked --quiet
# PDF printing embeds DejaVu Sans (VORONKA_PDF_FONT_DIR); without it the PDF routes answer 503.
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null; } \
            || echo "warning: could not install fonts-dejavu-core; the PDF routes answer 503 until it is installed" >&2
    else
        echo "warning: DejaVu fonts missing; PDF printing needs fonts-dejavu-core (or VORONKA_PDF_FONT_DIR)" >&2
    fi
fi
