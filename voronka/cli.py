"""The `voronka` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import track

from schemas.auth import Caller
from schemas.employees import Role
from voronka.logging import configure_logging
from voronka.settings import Settings

app = typer.Typer(help="Voronka: an event-sourced sales pipeline.", no_args_is_help=True)
schemas_app = typer.Typer(help="The event contract as JSON Schema.", no_args_is_help=True)
import_app = typer.Typer(help="Import reference data from 1C.", no_args_is_help=True)
export_app = typer.Typer(help="Export data for 1C.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
projections_app = typer.Typer(help="Read models built from the events.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")
console = Console()
err = Console(stderr=True)

ONE_C = Caller(employee="system:1c", role=Role.INTEGRATION)


def load_settings() -> Settings:
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            err.print(f"[red]configuration error[/red] VORONKA_{'_'.join(map(str, error['loc'])).upper()}: {error['msg']}")
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_json)
    return settings


def fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@app.command()
def serve() -> None:
    """Serve the HTTP API (commands, OpenAPI at /docs)."""
    import uvicorn

    from voronka.wiring import bootstrap, create_app

    settings = load_settings()
    uvicorn.run(create_app(bootstrap(settings)), host=settings.host, port=settings.port, log_level=settings.log_level)


def stop_on_signals(stop=None):
    """An event set by SIGTERM (docker stop) or Ctrl-C: a long-running command finishes its round and exits 0."""
    import signal
    import threading

    stop = threading.Event() if stop is None else stop
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def reachable_container(settings: Settings):
    """The wired application, or a clear error when the event store or the read-model database is down."""
    from eventsourcing.persistence import PersistenceError
    from sqlalchemy.exc import OperationalError

    from voronka.wiring import bootstrap

    try:
        return bootstrap(settings)
    except (PersistenceError, OperationalError) as exc:
        fail(f"the databases are not reachable ({settings.store} store): {type(exc).__name__}: {str(exc).splitlines()[0]}")


@app.command()
def processes() -> None:
    """Run the process managers (duplicate check, scheduler, outbox delivery) over the store's log, without the API
    and without the projections (the Kafka workers build those). One instance is active; a second one waits."""
    import structlog

    from consumers.lease import Lease
    from voronka.wiring import follow_the_log, step_processes

    settings = load_settings()
    container = reachable_container(settings)
    stop = stop_on_signals()
    log = structlog.get_logger("voronka.processes")
    lease = Lease(container.runner.engine, settings.data_dir, "processes")
    if lease.acquire(stop):
        try:
            log.info("processes_started", managers=[p.name for p in container.processes])
            follow_the_log(container, stop, one_round=step_processes)
        finally:
            lease.release()
    log.info("processes_stopped")


@app.command()
def inbound() -> None:
    """Take interests (web forms, mail gateway) and calls (PBX) from the inbound Kafka topics into the store;
    invalid messages go to the inbound dead-letter topic."""
    from consumers.inbound import InboundTopics, connect
    from consumers.kafka_topics import KafkaUnavailable

    settings = load_settings()
    container = reachable_container(settings)
    topics = InboundTopics(settings.kafka_inbound_interests_topic, settings.kafka_inbound_calls_topic,
                           settings.kafka_inbound_dlq_topic, settings.kafka_partitions)  # fmt: skip
    try:
        consumer = connect(settings.kafka_bootstrap, topics, container.service.handle)
    except KafkaUnavailable as exc:
        fail(f"Kafka is not reachable: {exc}")
    stop_on_signals(consumer.stop)
    try:
        consumer.run()
    finally:
        consumer.close()


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="A fresh directory for the demo data")] = Path("var/demo"),
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the API after seeding")] = True,
    scale: Annotated[float, typer.Option(min=0.01, help="Multiplies the department's headcount and inbound flow")] = 1.0,
    days: Annotated[int, typer.Option(min=1, help="Days of history, ending now")] = 91,
) -> None:
    """Seed months of a realistic sales department into a fresh data directory and serve the API."""
    import os

    from voronka.demo import run_demo

    os.environ["VORONKA_DATA_DIR"] = str(data_dir)
    run_demo(load_settings(), console, serve_api, scale=scale, days=days)


@app.command()
def token(
    employee: Annotated[str, typer.Option(help="Employee id, or system:<integration>")],
    role: Annotated[Role, typer.Option(help="Role carried by the token")],
    hours: Annotated[int | None, typer.Option(help="Lifetime; defaults to VORONKA_TOKEN_TTL_HOURS")] = None,
) -> None:
    """Issue a signed API token."""
    from datetime import timedelta

    from pydantic import ValidationError

    from voronka.wiring import token_codec

    try:
        print(token_codec(load_settings()).issue(employee, role, timedelta(hours=hours) if hours else None))
    except ValidationError:
        fail(f"'{employee}' is not an employee id (lower-case login) or system:<integration>")


@projections_app.command("status")
def projections_status() -> None:
    """Each projection's version, position and lag behind the event store."""
    from rich.table import Table

    from voronka.wiring import bootstrap

    settings = load_settings()
    container = bootstrap(settings)
    head = container.store.max_position()
    if settings.consumers == "kafka":
        console.print(kafka_status(container, head))
        return
    table = Table("projection", "version", "position", "lag")
    positions = container.runner.positions()
    for projection in container.runner.projections:
        position = positions[projection.name]
        table.add_row(projection.name, str(projection.version), str(position), str(head - position))
    console.print(table)


def kafka_status(container, head: int):
    """In Kafka mode the projections advance together, per partition: the relay's and the workers' lag."""
    from rich.table import Table

    from voronka.kafka_mode import KafkaHealth, topics

    report = KafkaHealth(container.runner.engine, topics(container.settings)).report(head)
    table = Table("stage", "position / partition", "lag", title=f"store position {head}")
    table.add_row("relay → Kafka", str(report["relay_position"]), str(report["relay_lag"]))
    for partition, lag in (report["consumer_lag"] or {}).items():
        table.add_row("workers", f"partition {partition}", str(lag))
    if report["consumer_lag"] is None:
        table.add_row("workers", "Kafka " + report.get("kafka", "unavailable"), "?")
    return table


@projections_app.command("rebuild")
def projections_rebuild(
    names: Annotated[list[str] | None, typer.Argument(help="Projections to rebuild (see `projections status`)")] = None,
    all_projections: Annotated[bool, typer.Option("--all", help="Rebuild every projection")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Events per transaction")] = 1000,
    source: Annotated[str, typer.Option(help="store: the event store's log; kafka: the events topic from offset 0")] = "store",
    workers: Annotated[int, typer.Option(min=1, help="Processes filling the rebuilt tables side by side")] = (
        os.cpu_count() or 1
    ),
) -> None:
    """Rebuild from the first event beside the live tables, then switch atomically; the API keeps serving."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from commands.store import EventStore
    from consumers.rebuild import RebuildError, StoreLog, rebuild
    from voronka.wiring import bootstrap

    container = bootstrap(load_settings())
    known = {p.name: p for p in container.runner.projections}
    if all_projections == bool(names):
        fail("name the projections to rebuild, or pass --all")
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        fail(f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    chosen = list(known.values()) if all_projections else [known[n] for n in dict.fromkeys(names or ())]
    if source == "store":
        env = container.settings.event_store_env()
        events, total = StoreLog(lambda: EventStore.existing(env), batch_size, workers), container.store.max_position()
    else:
        events, total = kafka_cli.rebuild_source(container, source, batch_size, workers)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("events"), TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"rebuilding {', '.join(p.name for p in chosen)}", total=total)
        try:
            position = kafka_cli.kafka_call(lambda: rebuild(container.runner.engine, chosen, events,
                                                            lambda reached: bar.update(task, completed=reached), batch_size))  # fmt: skip
        except RebuildError as exc:
            fail(f"{exc}; the live tables are unchanged")
    console.print(f"switched {len(chosen)} projection(s) to the rebuilt tables at position {position}")


@schemas_app.command("export")
def schemas_export(directory: Annotated[Path, typer.Argument(help="Where to write the JSON Schemas")]) -> None:
    """Write the JSON Schema of every event, command and the message envelope."""
    from voronka.schema_export import export_schemas

    written = export_schemas(directory)
    console.print(f"wrote {len(written)} schemas to {directory}")


@import_app.command("catalog")
def import_catalog(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Import the product catalog from 1C (CommerceML 2 import.xml or CSV). Safe to repeat."""
    from commands.onec_formats import FileFormatError, parse_catalog
    from schemas.catalog import ImportCatalog
    from voronka.wiring import bootstrap

    try:
        records = parse_catalog(file.read_bytes())
    except FileFormatError as exc:
        fail(f"{file}: {exc}")
    container = bootstrap(load_settings())
    report = container.service.handle(ImportCatalog(source=file.name, records=records), ONE_C).report or {}
    for key in ("listed", "updated", "restored", "archived"):
        console.print(f"{key:>9}: {len(report[key])}")
    console.print(f"unchanged: {report['unchanged']}")
    missing = report["without_registry_code"]
    if missing:
        console.print(f"[yellow]{len(missing)} products have no registry code:[/yellow] {', '.join(missing)}")


@import_app.command("counterparties")
def import_counterparties(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Import counterparties from 1C (CommerceML 2 Контрагенты or CSV); existing INN+KPP are skipped."""
    from aggregates.errors import ConflictError, DomainError
    from commands.onec_formats import FileFormatError, parse_counterparties
    from schemas.counterparties import RegisterCounterparty
    from voronka.wiring import bootstrap

    try:
        records = parse_counterparties(file.read_bytes())
    except FileFormatError as exc:
        fail(f"{file}: {exc}")
    service = bootstrap(load_settings()).service
    created = skipped = 0
    for record in track(records, description="importing", console=err):
        try:
            service.handle(RegisterCounterparty(counterparty=record), ONE_C)
            created += 1
        except ConflictError:
            skipped += 1
        except DomainError as exc:
            fail(f"{record.name} (INN {record.inn}): {exc.message}")
    console.print(f"created {created}, already known {skipped}")


@export_app.command("counterparties")
def export_counterparties(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write; stdout if omitted")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or commerceml")] = "csv",
) -> None:
    """Export counterparties for 1C (CSV or CommerceML 2 Контрагенты)."""
    from commands.onec_formats import export_counterparties_commerceml, export_counterparties_csv
    from voronka.onec_export import counterparties_for_export
    from voronka.wiring import bootstrap

    writers = {"csv": export_counterparties_csv, "commerceml": export_counterparties_commerceml}
    if fmt not in writers:
        fail(f"--format must be one of: {', '.join(writers)}")
    rows = counterparties_for_export(bootstrap(load_settings()).store)
    data = writers[fmt](rows)
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        err.print(f"wrote {len(rows)} counterparties to {output}")


# The Kafka side (relay, projection workers, dead letters) lives in its own module.
from voronka import kafka_cli  # noqa: E402

app.command()(kafka_cli.relay)
app.command()(kafka_cli.worker)
app.add_typer(kafka_cli.dlq_app, name="dlq")
