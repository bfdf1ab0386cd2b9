"""A large event store made by the demo generator, shared by the read-side benchmarks.

    uv run python bench/dataset.py [--events 1000000] [--dir /dev/shm/voronka-bench]

The store is made once and reused while it holds at least the events asked for. The demo writes about
40,000 events per unit of scale over 91 days, so the scale is chosen from the number of events wanted.
A directory on tmpfs (/dev/shm) makes the generation about twice as fast; it changes nothing measured
later, since every benchmark compares against a baseline reading the same store.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commands.store import EventStore  # noqa: E402
from voronka.logging import configure_logging  # noqa: E402
from voronka.settings import Settings  # noqa: E402

EVENTS_PER_SCALE = 40_000
DEFAULT_DIR = Path("/dev/shm/voronka-bench") if Path("/dev/shm").is_dir() else Path("var/bench")


def stored_events(settings: Settings) -> int:
    if not settings.event_store_path.exists():
        return 0
    store = EventStore(settings.event_store_env())
    try:
        return store.max_position()
    finally:
        store.close()


def ensure_store(directory: Path, events: int) -> Settings:
    """Settings of a store holding at least about `events` events, generated if needed."""
    from voronka.demo_history import generate
    from voronka.wiring import bootstrap

    settings = Settings(data_dir=directory)
    if stored_events(settings) >= events * 0.9:
        return settings
    shutil.rmtree(directory, ignore_errors=True)
    configure_logging("warning", False)
    container = bootstrap(settings)
    started, days = time.perf_counter(), 91
    done = []

    def progress(_day) -> None:
        done.append(1)
        if len(done) % 10 == 0:
            print(f"  day {len(done)}/{days}: {container.store.max_position():,} events, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip

    generate(container, random.Random(2026), scale=events / EVENTS_PER_SCALE, days=days, on_day=progress)
    container.store.close()
    print(f"generated {stored_events(settings):,} events in {time.perf_counter() - started:.0f} s", flush=True)
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    settings = ensure_store(args.dir, args.events)
    print(f"{settings.data_dir}: {stored_events(settings):,} events")


if __name__ == "__main__":
    main()
