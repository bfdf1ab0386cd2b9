"""The lead card projection: known answers, incremental == rebuild, idempotence, crash safety."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import create_engine, select

from aggregates.errors import DomainError
from aggregates.lead import Lead
from commands.deps import Deps
from commands.service import CommandService
from commands.store import EventStore
from consumers.runner import ProjectionRunner
from projections.writes import execute
from projections.base import Projection
from projections.lead_card import LeadCardProjection, cards
from schemas import leads as l
from tests.conftest import HEAD, NOW, SITE, manager, seed_department
from voronka.settings import Settings


def engine_at(path: Path):
    return create_engine(f"sqlite:///{path}")


def table_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(select(cards)))


def test_the_card_shows_holder_first_touch_and_speed_to_lead(department, store, tmp_path):
    lead_id = UUID(department.handle(l.RegisterInterest(channel="exhibition", source_detail="Здравоохранение-2026",
                                                        contact={"name": "Ирина", "email": "i@gkb.ru"}, occurred_at=NOW), SITE).id)  # fmt: skip
    holder = store.get(Lead, lead_id).holder
    department.handle(l.RecordContactAttempt(lead_id=lead_id, outcome="no_answer", occurred_at=NOW + timedelta(minutes=30)), manager(holder))
    department.handle(l.RecordContactAttempt(lead_id=lead_id, outcome="answered", occurred_at=NOW + timedelta(hours=2)), manager(holder))
    runner = ProjectionRunner(engine_at(tmp_path / "read.sqlite"), store.read_batch, [LeadCardProjection])
    runner.run_until_caught_up()
    with runner.engine.connect() as conn:
        card = conn.execute(select(cards).where(cards.c.lead_id == lead_id)).one()
    assert (card.channel, card.source_detail, card.status, card.holder, card.first_touch) == (
        "exhibition", "Здравоохранение-2026", "in_progress", holder, holder)  # fmt: skip
    assert card.first_contact_at.replace(tzinfo=NOW.tzinfo) - card.registered_at.replace(tzinfo=NOW.tzinfo) == timedelta(minutes=30)
    assert runner.position(LeadCardProjection) == store.max_position()


OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["register", "contact", "qualify", "disqualify", "spam", "hand_off", "reopen"]),
              st.integers(0, 3)),  # fmt: skip
    min_size=1,
    max_size=25,
)


def play(service: CommandService, store: EventStore, operations, after_each=lambda: None) -> None:
    leads: list[UUID] = []
    for op, index in operations:
        try:
            if op == "register" or not leads:
                leads.append(UUID(service.handle(l.RegisterInterest(channel="email", contact={"email": f"c{index}@x.ru"}), SITE).id))
            else:
                lead_id = leads[index % len(leads)]
                holder = manager(store.get(Lead, lead_id).holder or "anna")
                command = {
                    "contact": l.RecordContactAttempt(lead_id=lead_id, outcome="answered"),
                    "qualify": l.QualifyLead(lead_id=lead_id),
                    "disqualify": l.DisqualifyLead(lead_id=lead_id, reason="no_budget"),
                    "spam": l.MarkLeadSpam(lead_id=lead_id),
                    "hand_off": l.HandOffLead(lead_id=lead_id, to="vera", reason="нагрузка"),
                    "reopen": l.ReopenLead(lead_id=lead_id, comment="ошибка"),
                }[op]
                service.handle(command, HEAD if op == "reopen" else holder)
        except DomainError:
            pass  # refused commands leave no events; the sequence goes on
        after_each()


@settings(max_examples=25, deadline=None)
@given(OPERATIONS)
def test_incremental_projection_equals_a_rebuild_and_a_repeat_changes_nothing(operations):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory)
        store = EventStore(Settings(data_dir=path).event_store_env())
        service = CommandService(Deps(store, Settings(data_dir=path).policy()))
        seed_department(service)
        live = ProjectionRunner(engine_at(path / "live.sqlite"), store.read_batch, [LeadCardProjection])
        play(service, store, operations, after_each=lambda: live.run_once(batch_size=3))
        live.run_until_caught_up(batch_size=3)

        rebuilt = ProjectionRunner(engine_at(path / "rebuilt.sqlite"), store.read_batch, [LeadCardProjection])
        rebuilt.run_until_caught_up(batch_size=10_000)
        assert table_rows(live.engine) == table_rows(rebuilt.engine)

        twice = engine_at(path / "twice.sqlite")
        LeadCardProjection.metadata.create_all(twice)
        events = [event for _, event in store.read_batch(0, 100_000)]
        with twice.begin() as conn:  # at-least-once: after the whole stream, its first half arrives again
            execute(conn, (c for event in events + events[: len(events) // 2] for c in LeadCardProjection.changes(event)))
        assert table_rows(twice) == table_rows(rebuilt.engine)
        store.close()


class Crash(Exception):
    pass


def test_a_crash_mid_batch_leaves_tables_and_position_in_step(department, store, tmp_path):
    for i in range(10):
        department.handle(l.RegisterInterest(channel="email", contact={"email": f"c{i}@x.ru"}), SITE)
    calls = {"n": 0}

    def crash_on_fifth(event):
        calls["n"] += 1
        if calls["n"] == 5:
            raise Crash
        return LeadCardProjection.changes(event)

    flaky = Projection(LeadCardProjection.name, LeadCardProjection.version, LeadCardProjection.metadata,
                       handlers=dict.fromkeys(LeadCardProjection.handlers, crash_on_fifth))  # fmt: skip
    engine = engine_at(tmp_path / "read.sqlite")
    with pytest.raises(Crash):
        ProjectionRunner(engine, store.read_batch, [flaky]).run_until_caught_up(batch_size=4)
    resumed = ProjectionRunner(engine, store.read_batch, [LeadCardProjection])
    log = store.read_batch(0, 1000)
    fifth_handled = [i for i, (_, e) in enumerate(log) if type(e.payload) in LeadCardProjection.handlers][4]
    crashed_batch = fifth_handled // 4
    assert crashed_batch > 0 and resumed.position(LeadCardProjection) == log[crashed_batch * 4 - 1][0]  # the batches before it
    resumed.run_until_caught_up(batch_size=4)

    clean = ProjectionRunner(engine_at(tmp_path / "clean.sqlite"), store.read_batch, [LeadCardProjection])
    clean.run_until_caught_up()
    assert table_rows(engine) == table_rows(clean.engine) and len(table_rows(engine)) == 10


def test_a_projection_added_later_catches_up_without_moving_the_others(department, store, tmp_path):
    from projections.audit import LeadAuditProjection, chain

    for i in range(5):
        department.handle(l.RegisterInterest(channel="email", contact={"email": f"c{i}@x.ru"}), SITE)
    engine = engine_at(tmp_path / "read.sqlite")
    ProjectionRunner(engine, store.read_batch, [LeadCardProjection]).run_until_caught_up(batch_size=7)
    cards_before = table_rows(engine)
    both = ProjectionRunner(engine, store.read_batch, [LeadCardProjection, LeadAuditProjection])
    both.run_until_caught_up(batch_size=7)
    assert table_rows(engine) == cards_before
    assert both.position(LeadAuditProjection) == both.position(LeadCardProjection) == store.max_position()
    with engine.connect() as conn:
        assert len(conn.execute(select(chain)).all()) == 10  # registration + assignment per lead
