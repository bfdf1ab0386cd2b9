"""Rebuilding every projection from zero, against reading and decoding the same events.

    uv run python bench/rebuild.py [--events 1000000] [--dir /dev/shm/voronka-bench]

The store comes from the demo generator (bench/dataset.py). Each measurement runs in a fresh process:
  baseline  read the whole log in batches and decode every event into its domain form;
  rebuild   what `voronka projections rebuild --all` does: every projection into a staging area from
            the first event, then the atomic switch, into a fresh read-model database.
The ratio rebuild/baseline is what to judge; absolute figures move with the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dataset import DEFAULT_DIR, ensure_store  # noqa: E402
from bench.fresh_process import in_process, peak_rss_mb  # noqa: E402
from voronka.settings import Settings  # noqa: E402

BATCH = 5000


def read_and_decode(settings: Settings) -> int:
    from commands.store import EventStore

    store = EventStore(settings.event_store_env())
    count, after = 0, 0
    while batch := store.read_batch(after, BATCH):
        count, after = count + len(batch), batch[-1][0]
    return count


def rebuild_all(settings: Settings) -> int:
    from sqlalchemy import create_engine

    from commands.store import EventStore
    from consumers.rebuild import rebuild
    from voronka.logging import configure_logging
    from voronka.wiring import all_projections

    configure_logging("warning", False)
    store = EventStore(settings.event_store_env())
    with tempfile.TemporaryDirectory(dir=settings.data_dir) as scratch:
        engine = create_engine(f"sqlite:///{scratch}/read.sqlite")
        rebuild(engine, all_projections(settings), store.read_batch, batch_size=BATCH)
        return store.max_position()


def measured(work, settings: Settings, results) -> None:
    started = time.perf_counter()
    events = work(settings)
    results.put((events, time.perf_counter() - started, peak_rss_mb()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    settings = ensure_store(args.dir, args.events)
    base_events, base_seconds, base_rss = in_process(measured, read_and_decode, settings)
    events, seconds, rss = in_process(measured, rebuild_all, settings)
    base_rate, rate = base_events / base_seconds, events / seconds
    print(f"store: {settings.data_dir} ({events:,} events)")
    print(f"{'':28}{'events/s':>12}{'seconds':>10}{'peak RSS':>12}")
    print(f"{'baseline: read + decode':28}{base_rate:>12,.0f}{base_seconds:>10.1f}{base_rss:>10.0f} MB")
    print(f"{'rebuild: all projections':28}{rate:>12,.0f}{seconds:>10.1f}{rss:>10.0f} MB")
    print(f"ratio rebuild/baseline: {rate / base_rate:.2f}   (targets: >= 30,000 events/s, >= 0.3, peak RSS < 500 MB)")


if __name__ == "__main__":
    main()
