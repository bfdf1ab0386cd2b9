"""`voronka demo`: a fresh data directory, three months of a sales department's history, then the API."""

from __future__ import annotations

import random
import shutil
import time
from functools import partial

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schemas.employees import Role
from voronka.demo_history import generate
from voronka.logging import configure_logging
from voronka.settings import Settings

SEED = 2026


def run_demo(settings: Settings, console: Console, serve: bool, scale: float = 1.0, days: int = 91) -> None:
    from voronka.wiring import bootstrap, create_app

    if settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
    container = bootstrap(settings)
    configure_logging("warning", settings.log_json)  # the seed's tens of thousands of commands stay quiet
    started = time.perf_counter()
    columns = (TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        simulated = progress.add_task("simulating days", total=days)
        history = generate(container, random.Random(SEED), scale=scale, days=days,
                           on_day=lambda _: progress.advance(simulated))  # fmt: skip
        generated = time.perf_counter() - started
        catch_up_projections(container, progress)
    seconds, events = time.perf_counter() - started, container.store.max_position()
    configure_logging(settings.log_level, settings.log_json)

    url = f"http://{settings.host}:{settings.port}"
    converter = history.managers("converter")[0].login
    head, manager = container.tokens.issue("rop", Role.HEAD_OF_SALES), container.tokens.issue(converter, Role.MANAGER)
    handed_off = (e.originator_id for _, e in container.store.read(topics=["LeadHandedOff", "InterestRegistered"]))
    lead = history.showcase.get("lead") or next(handed_off, "<lead-id>")  # a lead a generator passed to a converter
    say = partial(console.print, soft_wrap=True)  # tokens and commands must stay copyable
    say(f"\n[bold]Voronka demo[/bold] — {days} days of a sales department in {settings.data_dir}: {events} events, "
        f"seeded in {seconds:.1f} s ({events / generated:.0f} events/s written, then projected)")  # fmt: skip
    say(f"API: {url}   OpenAPI: {url}/docs\n")
    say(f"Head of sales token (rop):\n  {head}\nManager token ({converter}, a converter):\n  {manager}\n")
    say("Try:")
    say(f"  curl -s {url}/leads/{lead}/audit -H 'Authorization: Bearer {head}'   # first touch, handoffs")
    say(f"  curl -s '{url}/needs?status=open' -H 'Authorization: Bearer {manager}'   # the converter's open needs")
    say(f"  curl -s '{url}/reports/conversion-by-channel?period=month' -H 'Authorization: Bearer {head}'\n")
    if serve:
        import uvicorn

        uvicorn.run(create_app(container), host=settings.host, port=settings.port, log_level=settings.log_level)


def catch_up_projections(container, progress: Progress) -> None:
    """Every read model up to the last event, shown as it goes."""
    head = container.store.max_position()
    task = progress.add_task("projecting events", total=head, completed=container.projected_position())
    while container.runner.run_once():
        progress.update(task, completed=container.projected_position())
    progress.update(task, completed=head)
