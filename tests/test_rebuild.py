"""Rebuild beside the live tables, then an atomic switch: readers never see a half-built model."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import MetaData, delete, func, select, text
from typer.testing import CliRunner

from commands.store import EventStore
from consumers.rebuild import RebuildError, StoreLog, rebuild
from projections.lead_card import LeadCardProjection, cards
from schemas import leads as l
from tests.conftest import SITE, rows, seed_department, use_settings
from voronka.cli import app
from voronka.wiring import bootstrap


def register(service, n: int, start: int = 0) -> list[UUID]:
    return [UUID(service.handle(l.RegisterInterest(channel="email", contact={"email": f"c{i}@x.ru"}), SITE).id)
            for i in range(start, start + n)]  # fmt: skip


def staging_left(engine, directory) -> list[str]:
    """Staging areas still there: files beside a SQLite read-model database, or PostgreSQL schemas."""
    if engine.dialect.name == "sqlite":
        assert (directory / "read.sqlite").exists()  # where staging files would be
        return [path.name for path in directory.glob("read.rebuild*")]
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'voronka_rebuild%'")).scalars())


def card_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(cards)).scalar()


def test_readers_see_the_old_tables_until_the_switch_then_the_rebuilt_ones(app_settings, store, tmp_path):
    container = bootstrap(app_settings, store)
    seed_department(container.service)
    register(container.service, 30)
    container.runner.run_until_caught_up()
    engine = container.runner.engine
    with engine.begin() as conn:  # damage the live model: the rebuild must repair it, but only at the switch
        conn.execute(delete(cards).where(cards.c.channel == "email"))
    seen_during = []
    position = rebuild(engine, [LeadCardProjection], store.read_batch, lambda _: seen_during.append(card_count(engine)), batch_size=10)
    assert seen_during[:-1] and set(seen_during[:-1]) == {0}  # never a half-built model
    assert card_count(engine) == 30 and position == store.max_position()
    assert container.runner.positions()["lead_card"] == position
    assert staging_left(engine, tmp_path) == []


def test_events_that_arrive_during_a_rebuild_are_neither_lost_nor_doubled(app_settings, store, tmp_path):
    from tests.conftest import rebuild as clean_rebuild

    container = bootstrap(app_settings, store)
    seed_department(container.service)
    register(container.service, 20)
    container.runner.run_until_caught_up()
    added = []

    def meanwhile(_: int) -> None:  # commands keep coming and the live runner keeps projecting them
        if len(added) < 3:
            added.extend(register(container.service, 5, start=100 + 5 * len(added)))
            container.runner.run_until_caught_up()

    switched_at = rebuild(container.runner.engine, container.runner.projections, store.read_batch, meanwhile, batch_size=15)
    assert switched_at == store.max_position()  # the switch never takes the live model back in time
    container.runner.run_until_caught_up()
    assert card_count(container.runner.engine) == 20 + len(added)
    assert rows(container.runner.engine, cards) == rows(clean_rebuild(LeadCardProjection, store, tmp_path / "clean.sqlite"), cards)


def test_cli_rebuilds_named_or_all_projections_and_refuses_unknown_names(monkeypatch, app_settings, store):
    container = bootstrap(app_settings, store)
    seed_department(container.service)
    register(container.service, 5)
    use_settings(monkeypatch, app_settings)
    cli = CliRunner()
    named = cli.invoke(app, ["projections", "rebuild", "lead_card", "kpi"])
    assert named.exit_code == 0 and "switched 2 projection(s)" in named.output, named.output
    assert container.runner.positions()["lead_card"] == store.max_position()
    assert container.runner.positions()["funnel"] == 0  # not named, not touched
    everything = cli.invoke(app, ["projections", "rebuild", "--all", "--workers", "2"])
    assert everything.exit_code == 0 and min(container.runner.positions().values()) == store.max_position()
    unknown = cli.invoke(app, ["projections", "rebuild", "lead_cards"])
    assert unknown.exit_code == 1 and "unknown projection(s) lead_cards" in unknown.output and "lead_card" in unknown.output
    assert cli.invoke(app, ["projections", "rebuild"]).exit_code == 1


def test_events_projected_live_just_before_the_switch_are_in_the_switched_model(app_settings, store):
    container = bootstrap(app_settings, store)
    seed_department(container.service)
    register(container.service, 10)
    container.runner.run_until_caught_up()
    late = []

    def read_batch(after: int, limit: int):
        events = store.read_batch(after, limit)
        if not events and not late:  # the rebuild caught up; the live side moves on before the switch
            late.extend(register(container.service, 4, start=50))
            container.runner.run_until_caught_up()
        return events

    switched_at = rebuild(container.runner.engine, [LeadCardProjection], read_batch, batch_size=1000)
    assert switched_at == store.max_position() == container.runner.positions()["lead_card"]
    assert card_count(container.runner.engine) == 14


def parallel_source(app_settings, workers: int, batch_size: int = 40) -> StoreLog:
    env = app_settings.event_store_env()
    return StoreLog(lambda: EventStore.existing(env), batch_size, workers)


def test_parts_rebuilt_in_parallel_processes_equal_the_incrementally_projected_tables(app_settings, store):
    from tests.kafka_support import play_department
    from tests.test_projection_properties import snapshot

    container = bootstrap(app_settings, store)
    play_department(store, app_settings, operations=150)
    container.runner.run_until_caught_up(batch_size=7)
    projections = container.runner.projections
    incremental = snapshot(container.runner.engine, projections)
    with container.runner.engine.begin() as conn:  # damage the live model: only the rebuild can repair it
        conn.execute(delete(cards))
    source = parallel_source(app_settings, workers=3)
    parts = source.split(projections)
    assert len(parts) == 3 and sorted(p.name for part in parts for p in part) == sorted(p.name for p in projections)
    switched_at = rebuild(container.runner.engine, projections, source, batch_size=40)
    assert switched_at == store.max_position() and set(container.runner.positions().values()) == {switched_at}
    assert snapshot(container.runner.engine, projections) == incremental


def test_a_part_that_fails_fails_the_rebuild_and_leaves_the_live_tables_as_they_were(app_settings, store, tmp_path):
    from projections.base import Projection

    container = bootstrap(app_settings, store)
    seed_department(container.service)
    register(container.service, 12)
    container.runner.run_until_caught_up()
    before = rows(container.runner.engine, cards)

    def explode(event):
        raise ValueError(f"cannot project {event.type}")

    broken = Projection("broken", 1, MetaData(), handlers={l.InterestRegistered: explode})
    with pytest.raises(RebuildError, match="rebuilding broken failed: ValueError: cannot project InterestRegistered"):
        rebuild(container.runner.engine, [LeadCardProjection, broken], parallel_source(app_settings, workers=2))
    assert rows(container.runner.engine, cards) == before
    assert container.runner.positions()["lead_card"] == store.max_position()
    assert staging_left(container.runner.engine, tmp_path) == []
