"""Rebuilding every projection from Kafka offset 0, against raw kafka-python reading the same topic, in the
same run; the rebuild from the store's log is shown alongside.

    uv run python bench/kafka_rebuild.py [--events N] [--bootstrap HOST:PORT] [--workers N]   # --events 1000000 for 1M

The store is filled (bench/event_fixture.py) and published by the relay into a fresh topic of 3 partitions
(not timed). Then, each in a fresh process: (1) `rebuild(..., KafkaTopicSource)` — what `voronka projections
rebuild --all --source kafka` runs: this process reads every partition from offset 0 to the end offsets once,
puts each aggregate's versions in order and hands each event to the parts (--workers processes, the
projections split into parts of about equal work) whose projections read its type; each part decodes and
projects into its staging tables; then the atomic switch;
(2) raw kafka-python: a consumer assigned every partition reading every message to the end offsets, doing
nothing with them; (3) the rebuild from the store's log, for comparison.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fresh_process import in_process  # noqa: E402
from bench.event_fixture import fill  # noqa: E402
from commands.store import EventStore  # noqa: E402
from consumers.kafka_topics import consumer, delete_topics, partitions_of  # noqa: E402
from voronka.logging import configure_logging  # noqa: E402
from voronka.settings import Settings  # noqa: E402

PARTITIONS = 3


def settings_for(directory: str, bootstrap: str, topic: str, read_db: str = "read.sqlite") -> Settings:
    return Settings(data_dir=Path(directory), kafka_bootstrap=bootstrap, kafka_events_topic=topic,
                    kafka_partitions=PARTITIONS, read_model_url=f"sqlite:///{directory}/{read_db}")  # fmt: skip


def run_kafka_rebuild(directory: str, bootstrap: str, topic: str, workers: int, queue: mp.Queue) -> None:
    from sqlalchemy import create_engine

    from consumers.kafka_rebuild import KafkaTopicSource
    from consumers.rebuild import rebuild
    from voronka.kafka_mode import topics
    from voronka.wiring import all_projections

    configure_logging("warning")
    settings = settings_for(directory, bootstrap, topic, "kafka-rebuild.sqlite")
    engine = create_engine(settings.read_models_url())
    counts = EventStore(settings.event_store_env()).topic_counts()
    started = time.perf_counter()
    source = KafkaTopicSource(engine, topics(settings), workers=workers, counts=counts).open()
    rebuild(engine, all_projections(settings), source)
    queue.put((source.total, time.perf_counter() - started))


def run_store_rebuild(directory: str, bootstrap: str, topic: str, workers: int, queue: mp.Queue) -> None:
    from sqlalchemy import create_engine

    from consumers.rebuild import StoreLog, rebuild
    from voronka.wiring import all_projections

    configure_logging("warning")
    settings = settings_for(directory, bootstrap, topic, "store-rebuild.sqlite")
    store = EventStore(settings.event_store_env())
    engine = create_engine(settings.read_models_url())
    started = time.perf_counter()
    rebuild(engine, all_projections(settings), StoreLog(lambda: EventStore.existing(settings.event_store_env()), 5000, workers))
    queue.put((store.max_position(), time.perf_counter() - started))


def run_raw(directory: str, bootstrap: str, topic: str, queue: mp.Queue) -> None:
    configure_logging("warning")
    client = consumer(bootstrap, max_partition_fetch_bytes=8 * 1024 * 1024)
    started = time.perf_counter()
    tps = partitions_of(client, topic)
    client.assign(tps)
    client.seek_to_beginning(*tps)
    ends = client.end_offsets(tps)
    count = 0
    while any(client.position(tp) < end for tp, end in ends.items()):
        count += sum(len(records) for records in client.poll(timeout_ms=1000, max_records=5000).values())
    queue.put((count, time.perf_counter() - started))


def publish(directory: str, bootstrap: str, topic: str, queue: mp.Queue) -> None:
    from voronka.kafka_mode import build_relay

    configure_logging("warning")
    relay = build_relay(settings_for(directory, bootstrap, topic))
    relay.run_until_caught_up()
    queue.put((relay.position, 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="events in the store and the topic")
    parser.add_argument("--bootstrap", default=os.environ.get("VORONKA_TEST_KAFKA", "127.0.0.1:19092"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for each rebuild (default: one per core)")
    args = parser.parse_args()
    configure_logging("warning")
    topic = f"bench.rebuild.{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as directory:
        store = EventStore(settings_for(directory, args.bootstrap, topic).event_store_env())
        events = fill(store, args.events)
        store.close()
        try:
            published, _ = in_process(publish, directory, args.bootstrap, topic)
            print(f"{events:,} events in the store and in {topic} ({PARTITIONS} partitions); broker {args.bootstrap}; "
                  f"{args.workers} worker(s) per rebuild")
            rebuilt, rebuild_s = in_process(run_kafka_rebuild, directory, args.bootstrap, topic, args.workers)
            raw, raw_s = in_process(run_raw, directory, args.bootstrap, topic)
            logged, store_s = in_process(run_store_rebuild, directory, args.bootstrap, topic, args.workers)
        finally:
            delete_topics(args.bootstrap, [topic])
    assert published == logged == events and rebuilt == raw == events, (published, rebuilt, raw, logged)
    rebuild_rate, raw_rate, store_rate = events / rebuild_s, events / raw_s, events / store_s
    print(f"{'':<52}{'events/s':>10}{'seconds':>9}{'ratio':>8}")
    print(f"{'rebuild of all projections from Kafka offset 0':<52}{rebuild_rate:>10,.0f}{rebuild_s:>9.1f}{rebuild_rate / raw_rate:>8.2f}")
    print(f"{'raw kafka-python consumption of the same topic':<52}{raw_rate:>10,.0f}{raw_s:>9.1f}{1:>8.2f}")
    print(f"{'rebuild of all projections from the store log':<52}{store_rate:>10,.0f}{store_s:>9.1f}{store_rate / raw_rate:>8.2f}")


if __name__ == "__main__":
    main()
