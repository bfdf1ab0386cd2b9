"""Events per second from the event store to Kafka by the relay, against raw kafka-python producing the same
messages, in the same run, against the same broker.

    uv run python bench/relay.py [--events N] [--bootstrap HOST:PORT]

The store is filled first (bench/event_fixture.py). Then, each in a fresh process and into a fresh topic
of 3 partitions: (1) the relay publishes the whole log (reading the store, building the envelopes,
producing, waiting for the broker's acknowledgement of each batch, recording its position); (2) raw
kafka-python produces the same keys, envelope values and headers, prepared in memory beforehand, with the
relay's producer settings, then flushes once; (3) the same with kafka-python's default batching
(linger 0, 16 KiB batches), for what the tuning buys. The ratio relay / raw is the figure to judge.
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
from consumers.kafka_topics import delete_topics, ensure_topic, producer  # noqa: E402
from consumers.relay import PRODUCER_TUNING  # noqa: E402
from consumers.wire import to_message  # noqa: E402
from voronka.logging import configure_logging  # noqa: E402
from voronka.settings import Settings  # noqa: E402

PARTITIONS = 3


def settings_for(directory: str, bootstrap: str, topic: str) -> Settings:
    return Settings(data_dir=Path(directory), kafka_bootstrap=bootstrap, kafka_events_topic=topic, kafka_partitions=PARTITIONS)


def run_relay(directory: str, bootstrap: str, topic: str, queue: mp.Queue) -> None:
    from voronka.kafka_mode import build_relay

    configure_logging("warning")
    relay = build_relay(settings_for(directory, bootstrap, topic))
    relay.connect()  # topic creation and the connection are not part of the rate
    started = time.perf_counter()
    relay.run_until_caught_up()
    queue.put((relay.position, time.perf_counter() - started))


def run_raw(directory: str, bootstrap: str, topic: str, tuned: bool, queue: mp.Queue) -> None:
    configure_logging("warning")
    store = EventStore(settings_for(directory, bootstrap, topic).event_store_env())
    messages = [to_message(event, position) for position, event in store.read_batch(0, 10_000_000)]
    ensure_topic(bootstrap, topic, PARTITIONS)
    client = producer(bootstrap, **(PRODUCER_TUNING if tuned else {}))
    started = time.perf_counter()
    for m in messages:
        client.send(topic, key=m.key, value=m.value, headers=m.headers)
    client.flush()
    queue.put((len(messages), time.perf_counter() - started))
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="events in the store")
    parser.add_argument("--bootstrap", default=os.environ.get("VORONKA_TEST_KAFKA", "127.0.0.1:19092"))
    args = parser.parse_args()
    configure_logging("warning")
    run = uuid.uuid4().hex[:8]
    topics = {name: f"bench.relay.{run}.{name}" for name in ("relay", "raw", "raw-default")}
    with tempfile.TemporaryDirectory() as directory:
        store = EventStore(settings_for(directory, args.bootstrap, "").event_store_env())
        events = fill(store, args.events)
        store.close()
        print(f"{events:,} events in the store; broker {args.bootstrap}; topics of {PARTITIONS} partitions")
        try:
            relayed, relay_s = in_process(run_relay, directory, args.bootstrap, topics["relay"])
            raw, raw_s = in_process(run_raw, directory, args.bootstrap, topics["raw"], True)
            plain, plain_s = in_process(run_raw, directory, args.bootstrap, topics["raw-default"], False)
        finally:
            delete_topics(args.bootstrap, list(topics.values()))
    assert relayed == raw == plain == events
    relay_rate, raw_rate, plain_rate = events / relay_s, events / raw_s, events / plain_s
    print(f"{'':<46}{'events/s':>10}{'ratio':>8}")
    print(f"{'relay: store -> Kafka, acknowledged, recorded':<46}{relay_rate:>10,.0f}{relay_rate / raw_rate:>8.2f}")
    print(f"{'raw kafka-python, same messages and settings':<46}{raw_rate:>10,.0f}{1:>8.2f}")
    print(f"{'raw kafka-python, default batching':<46}{plain_rate:>10,.0f}{plain_rate / raw_rate:>8.2f}")


if __name__ == "__main__":
    main()
