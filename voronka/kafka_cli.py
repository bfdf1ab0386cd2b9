"""`voronka relay`, `voronka worker` and `voronka dlq list|replay`: the Kafka side of the distributed deployment."""

from __future__ import annotations

import os
import signal
import socket
import threading
from typing import Annotated

import typer

dlq_app = typer.Typer(help="Dead letters: events the projection workers could not decode or apply.", no_args_is_help=True)
NEWER_SCHEMA_EXIT = 3


def stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def relay() -> None:
    """Publish the event store's log to the events topic, in order (one active relay at a time; others wait)."""
    from voronka.cli import load_settings
    from voronka.kafka_mode import build_relay

    settings = load_settings()
    build_relay(settings).run(stop_on_signals())


def worker(
    name: Annotated[str | None, typer.Option(help="A stable name (e.g. the pod's): the worker's static member id in the "
                                             "group, so a restarted worker gets its partitions back at once")] = None,
) -> None:
    """Apply the events topic to every projection, as one member of the workers' consumer group."""
    from consumers.wire import NewerSchemaError
    from voronka.cli import err, load_settings
    from voronka.kafka_mode import build_worker

    settings = load_settings()
    try:
        build_worker(settings, name or f"{socket.gethostname()}-{os.getpid()}", static=bool(name)).run(stop_on_signals())
    except NewerSchemaError as exc:
        where = "; ".join(getattr(exc, "__notes__", []))
        err.print(f"[red]error:[/red] {exc} ({where}). This worker stops rather than let the read models diverge: "
                  "deploy the newer code to the workers, then start them again.")  # fmt: skip
        raise typer.Exit(NEWER_SCHEMA_EXIT) from None


@dlq_app.command("list")
def dlq_list() -> None:
    """Every dead letter: its offset, source message, aggregate, error, and whether it was replayed."""
    from rich.table import Table
    from sqlalchemy import create_engine

    from consumers import kafka_state
    from consumers.dlq import entries
    from voronka.cli import console, load_settings
    from voronka.kafka_mode import topics

    settings = load_settings()
    found = kafka_call(lambda: entries(topics(settings)))
    engine = create_engine(settings.read_models_url())
    kafka_state.metadata.create_all(engine)
    with engine.connect() as conn:
        replayed = kafka_state.replayed_sources(conn)
        parked = kafka_state.parked_counts(conn)
    table = Table("offset", "source", "aggregate", "type", "parked after it", "replayed", "error")
    for entry in found:
        topic, partition, offset = entry.source
        aggregate = entry.aggregate_id
        version = entry.header("aggregate_version")
        table.add_row(str(entry.offset), f"{partition}@{offset}", f"{aggregate or '?'}" + (f" v{version}" if version else ""),
                      entry.header("type") or "?", str(parked.get(aggregate, 0)), "yes" if entry.source in replayed else "no",
                      entry.header("error"))  # fmt: skip
    console.print(table)
    console.print(f"{len(found)} dead letter(s) in {settings.kafka_dlq_topic}")


@dlq_app.command("replay")
def dlq_replay(
    offset: Annotated[int | None, typer.Option(help="The dead letter's offset (see `dlq list`)")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every dead letter not replayed yet")] = False,
    from_store: Annotated[bool, typer.Option("--from-store", help="Publish the event as the store holds it, "
                                             "instead of the original message (when the message itself was damaged)")] = False,
) -> None:  # fmt: skip
    """Re-publish dead letters to the events topic; the workers then apply them and the events parked behind them."""
    from sqlalchemy import create_engine

    from commands.store import EventStore
    from consumers.dlq import ReplayError, entries, replay
    from voronka.cli import console, fail, load_settings
    from voronka.kafka_mode import stored_message, topics

    if (offset is None) == (not every):
        fail("name one dead letter with --offset N, or pass --all")
    settings = load_settings()
    found = kafka_call(lambda: entries(topics(settings)))
    chosen = found if every else [e for e in found if e.offset == offset]
    if not chosen and every:
        console.print(f"no dead letters in {settings.kafka_dlq_topic}")
        return
    if not chosen:
        fail(f"no dead letter at offset {offset} in {settings.kafka_dlq_topic}")
    store = EventStore(settings.event_store_env()) if from_store else None
    try:
        replayed = kafka_call(lambda: replay(create_engine(settings.read_models_url()), topics(settings), chosen,
                                             stored_message(store) if store else None))  # fmt: skip
    except ReplayError as exc:
        fail(str(exc))
    skipped = len(chosen) - len(replayed)
    console.print(f"replayed {len(replayed)} dead letter(s) to {settings.kafka_events_topic}"
                  + (f"; {skipped} already replayed before, not again" if skipped else ""))  # fmt: skip


def rebuild_source(container, source: str, batch_size: int, workers: int):
    """`projections rebuild --source kafka`: the events topic from offset 0; answers (source, events to read)."""
    from consumers.kafka_rebuild import KafkaTopicSource
    from voronka.cli import fail
    from voronka.kafka_mode import topics

    if source != "kafka":
        fail(f"--source must be store or kafka, not '{source}'")
    counts = container.store.topic_counts() if workers > 1 else {}  # to split the work evenly
    topic_source = KafkaTopicSource(container.runner.engine, topics(container.settings), batch_size, workers, counts)
    kafka_call(topic_source.open)
    return topic_source, topic_source.total


def kafka_call(action):
    """Run an action that may talk to Kafka; an unreachable broker, or an event of a newer schema version, is a
    clear error, not a traceback."""
    from consumers.kafka_topics import KafkaUnavailable
    from consumers.wire import NewerSchemaError
    from voronka.cli import fail

    try:
        return action()
    except KafkaUnavailable as exc:
        fail(f"Kafka is not available ({exc}); check VORONKA_KAFKA_BOOTSTRAP")
    except NewerSchemaError as exc:
        fail(f"{exc} ({'; '.join(getattr(exc, '__notes__', []))}): run this with the newer code")
