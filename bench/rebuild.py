"""Rebuilding every projection from zero, against reading and decoding the same events.

    uv run python bench/rebuild.py [--events 1000000] [--dir /dev/shm/voronka-bench] [--workers 2]

The store comes from the demo generator (bench/dataset.py). Each measurement runs in a fresh process:
  baseline  read the whole log in batches and decode every event into its domain form;
  rebuild   what `voronka projections rebuild --all --workers N` does: every projection into staging
            areas from the first event (the projections split into N parts, each filled by its own
            process reading only its event types), then the atomic switch, into a fresh read-model
            database. With --workers 1 it all runs in one process, like the baseline.
Peak RSS is the measuring process's, plus its largest worker's times the number of workers (an upper bound).
The ratio rebuild/baseline is what to judge; absolute figures move with the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dataset import DEFAULT_DIR, ensure_store  # noqa: E402
from bench.fresh_process import in_process, peak_rss_mb  # noqa: E402
from voronka.settings import Settings  # noqa: E402

BATCH = 5000


def read_and_decode(settings: Settings, _workers: int) -> int:
    from commands.store import EventStore

    store = EventStore(settings.event_store_env())
    count, after = 0, 0
    while batch := store.read_batch(after, BATCH):
        count, after = count + len(batch), batch[-1][0]
    return count


def rebuild_all(settings: Settings, workers: int) -> int:
    from sqlalchemy import create_engine

    from commands.store import EventStore
    from consumers.rebuild import StoreLog, rebuild
    from voronka.logging import configure_logging
    from voronka.wiring import all_projections

    configure_logging("warning", False)
    source = StoreLog(lambda: EventStore.existing(settings.event_store_env()), BATCH, workers)
    with tempfile.TemporaryDirectory(dir=settings.data_dir) as scratch:
        engine = create_engine(f"sqlite:///{scratch}/read.sqlite")
        return rebuild(engine, all_projections(settings), source, batch_size=BATCH)


def measured(work, settings: Settings, workers: int, results) -> None:
    started = time.perf_counter()
    events = work(settings, workers)
    results.put((events, time.perf_counter() - started, (peak_rss_mb(), peak_rss_mb(children=True))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for the rebuild (default: one per core)")
    args = parser.parse_args()
    settings = ensure_store(args.dir, args.events)
    from voronka.wiring import all_projections
    base_events, base_seconds, base_rss = in_process(measured, read_and_decode, settings, 0)
    events, seconds, rss = in_process(measured, rebuild_all, settings, args.workers)
    base_rate, rate = base_events / base_seconds, events / seconds
    print(f"store: {settings.data_dir} ({events:,} events)")
    print(f"{'':28}{'events/s':>12}{'seconds':>10}{'peak RSS':>12}")
    (parent_rss, worker_rss), parts = rss, min(args.workers, len(all_projections(settings)))
    total_rss = parent_rss + (parts * worker_rss if parts > 1 else 0)
    print(f"{'baseline: read + decode':28}{base_rate:>12,.0f}{base_seconds:>10.1f}{base_rss[0]:>10.0f} MB")
    print(f"{f'rebuild: all, {parts} part(s)':28}{rate:>12,.0f}{seconds:>10.1f}{total_rss:>10.0f} MB")
    if parts > 1:
        print(f"  peak RSS at most {parent_rss:.0f} MB (this process) + {parts} x {worker_rss:.0f} MB (the largest worker)")
    print(f"ratio rebuild/baseline: {rate / base_rate:.2f}   (targets: >= 30,000 events/s, >= 0.3, peak RSS < 500 MB)")


if __name__ == "__main__":
    main()
