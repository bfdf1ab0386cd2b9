"""Every projection, for random valid command histories: incremental == rebuild, an event twice == once,
and any interleaving of the aggregates' streams that keeps each aggregate's order gives the same tables."""

from __future__ import annotations

import random
import tempfile
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from hypothesis import given, settings, strategies as st
from sqlalchemy import create_engine, select

from aggregates.deal import Deal
from aggregates.errors import DomainError
from aggregates.lead import Lead
from commands.deps import Deps
from commands.service import CommandService
from commands.store import EventStore
from consumers.runner import ProjectionRunner
from projections.writes import execute
from schemas import activities as a, counterparties as c, deals as d, leads as l, needs as n
from tests.conftest import HEAD, NOW, SITE, manager, product, seed_department
from voronka.settings import Settings
from voronka.wiring import all_projections

ACTIONS = ["register", "contact", "qualify", "disqualify", "spam", "hand_off", "call", "meeting", "need", "need_again",
           "convert", "deal_step", "deal_step", "deal_step", "lose", "reopen_deal", "follow_up"]  # fmt: skip
OPERATIONS = st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 5)), min_size=1, max_size=30)
CHANNELS = ["email", "site_form", "inbound_call", "exhibition"]


class Department:
    """Plays random operations through the command service; refused commands leave no events."""

    def __init__(self, service: CommandService, store: EventStore) -> None:
        self.s, self.store = service, store
        self.leads: list[UUID] = []
        self.needs: list[UUID] = []
        self.deals: list[UUID] = []
        self.meetings: list[UUID] = []
        seed_department(service)
        self.clients = [UUID(service.handle(c.RegisterCounterparty(counterparty={"inn": inn, "kpp": "770101001", "name": f"ООО {inn}"},
                                                                   owner="anna"), HEAD).id)
                        for inn in ("7736050003", "7702070139")]  # fmt: skip
        self.clock = 0

    def at(self):
        self.clock += 1
        return NOW + timedelta(hours=self.clock)

    def play(self, op: str, i: int) -> None:
        try:
            getattr(self, op)(i)
        except DomainError:
            pass

    def pick(self, items: list, i: int):
        if not items:
            raise DomainError("nothing to act on")
        return items[i % len(items)]

    def holder(self, lead_id: UUID):
        return manager(self.store.get(Lead, lead_id).holder or "anna")

    def register(self, i: int) -> None:
        command = l.RegisterInterest(channel=CHANNELS[i % 4], contact={"email": f"c{len(self.leads)}@x{i}.ru"}, occurred_at=self.at())
        self.leads.append(UUID(self.s.handle(command, SITE).id))

    def lead_command(self, i: int, make) -> None:
        lead_id = self.pick(self.leads, i)
        self.s.handle(make(lead_id).model_copy(update={"occurred_at": self.at()}), self.holder(lead_id))

    def contact(self, i):
        self.lead_command(i, lambda x: l.RecordContactAttempt(lead_id=x, outcome="answered"))

    def qualify(self, i):
        self.lead_command(i, lambda x: l.QualifyLead(lead_id=x))

    def disqualify(self, i):
        self.lead_command(i, lambda x: l.DisqualifyLead(lead_id=x, reason="no_budget"))

    def spam(self, i):
        self.lead_command(i, lambda x: l.MarkLeadSpam(lead_id=x))

    def hand_off(self, i):
        self.lead_command(i, lambda x: l.HandOffLead(lead_id=x, to="vera", reason="нагрузка"))

    def call(self, i: int) -> None:
        lead = self.pick(self.leads, i) if self.leads else None
        who = self.holder(lead) if lead else manager("anna")
        self.s.handle(a.LogCall(employee=who.employee, direction="outbound", phone="+7 495 000-00-00", started_at=self.at(),
                                duration_seconds=15 * i, outcome="answered", lead_id=lead), who)  # fmt: skip

    def meeting(self, i: int) -> None:
        at = self.at()
        meeting = UUID(self.s.handle(a.ScheduleMeeting(converter="boris", scheduled_for=at, occurred_at=at), manager("anna")).id)
        self.meetings.append(meeting)
        if i % 3:
            self.s.handle(a.RecordMeetingHeld(meeting_id=meeting, occurred_at=self.at()), manager("boris"))

    def need(self, i: int, products: range | None = None) -> None:
        items = [{"product_id": str(product(p)), "quantity": 1 + i, "period": {"start": "2026-12-01", "end": "2026-12-31"}}
                 for p in (products or range(i % 3, i % 3 + 2))]  # fmt: skip
        lead = self.leads[i % len(self.leads)] if self.leads and i % 2 else None
        meeting = self.meetings[-1] if self.meetings and i % 3 == 0 else None
        command = n.RegisterNeed(counterparty_id=self.clients[i % 2], items=items, lead_id=lead, meeting_id=meeting, occurred_at=self.at())
        self.needs.append(UUID(self.s.handle(command, manager(("anna", "boris")[i % 2])).id))

    def need_again(self, i: int) -> None:  # the same product set: the duplicate-work check's business
        self.need(i, range(0, 2))

    def convert(self, i: int) -> None:
        need = self.pick(self.needs, i)
        self.deals.append(UUID(self.s.handle(n.ConvertNeedToDeal(need_id=need, override_duplicate_alert=True, occurred_at=self.at()), HEAD).id))

    def deal_step(self, i: int) -> None:
        deal_id = self.pick(self.deals, i)
        deal = self.store.get(Deal, deal_id)
        me, at = manager(deal.owner), self.at()
        steps = {
            "issue proposal": lambda: d.IssueProposal(deal_id=deal_id, lines=[{"product_id": product(0), "quantity": 1, "unit_price": "100"}]),
            "send documents": lambda: d.SendDocuments(deal_id=deal_id, invoice_number="1", contract_number="1"),
            "sign contract": lambda: d.SignContract(deal_id=deal_id, signed_on=at.date()),
            "record payment": lambda: d.RecordPayment(deal_id=deal_id, amount=min(deal.outstanding, Decimal(60)), paid_on=at.date()),
            "start fulfilment": lambda: d.StartFulfilment(deal_id=deal_id, mode="own_stock"),
            "record shipment": lambda: d.RecordShipment(deal_id=deal_id, shipped_on=at.date(),
                                                        items=[{"product_id": p, "quantity": q} for p, q in deal.remaining_to_ship().items()]),
            "receive closing documents": lambda: d.ReceiveClosingDocuments(deal_id=deal_id),
            "win": lambda: d.WinDeal(deal_id=deal_id),
        }  # fmt: skip
        possible = [action for action in deal.allowed_actions() if action in steps]
        self.s.handle(steps[self.pick(possible, i)]().model_copy(update={"occurred_at": at}), me)

    def lose(self, i: int) -> None:
        deal_id = self.pick(self.deals, i)
        self.s.handle(d.LoseDeal(deal_id=deal_id, reason="price", occurred_at=self.at()), HEAD)

    def reopen_deal(self, i: int) -> None:
        self.s.handle(d.ReopenDeal(deal_id=self.pick(self.deals, i), comment="вернулись", occurred_at=self.at()), HEAD)

    def follow_up(self, i: int) -> None:
        deal_id = self.pick(self.deals, i)
        self.s.handle(d.ScheduleFollowUp(deal_id=deal_id, kind="call", due_at=self.at() + timedelta(days=i), occurred_at=self.at()), HEAD)


def snapshot(engine, projections) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {table.name: sorted(map(tuple, conn.execute(select(table))), key=repr)
                for p in projections for table in p.metadata.sorted_tables}  # fmt: skip


def applied(projections, events, path: Path):
    engine = create_engine(f"sqlite:///{path}")
    for p in projections:
        p.metadata.create_all(engine)
    with engine.begin() as conn:
        for event in events:
            for p in projections:
                execute(conn, p.changes(event))
    return engine


def interleave(events: list, rng: random.Random) -> list:
    """A random merge of the aggregates' streams, each kept in its own order (as Kafka partitions may deliver)."""
    streams = defaultdict(list)
    for event in events:
        streams[event.originator_id].append(event)
    queues = [list(reversed(s)) for s in streams.values()]
    merged = []
    while queues:
        queue = rng.choice(queues)
        merged.append(queue.pop())
        if not queue:
            queues.remove(queue)
    return merged


@settings(max_examples=30, deadline=None)
@given(OPERATIONS, st.randoms(use_true_random=False))
def test_every_projection_is_deterministic_idempotent_and_order_tolerant(operations, rng):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory)
        app_settings = Settings(data_dir=path)
        projections = all_projections(app_settings)
        store = EventStore(app_settings.event_store_env())
        department = Department(CommandService(Deps(store, app_settings.policy())), store)
        live = ProjectionRunner(create_engine(f"sqlite:///{path / 'live.sqlite'}"), store.read_batch, projections)
        for op, i in operations:
            department.play(op, i)
            live.run_once(batch_size=7)
        live.run_until_caught_up(batch_size=7)
        rebuilt = ProjectionRunner(create_engine(f"sqlite:///{path / 'rebuilt.sqlite'}"), store.read_batch, projections)
        rebuilt.run_until_caught_up(batch_size=10_000)
        expected = snapshot(rebuilt.engine, projections)
        assert snapshot(live.engine, projections) == expected  # (a) incremental == rebuild

        events = [event for _, event in store.read_batch(0, 1_000_000)]
        repeated = [e for event in events for e in (event, event)]
        assert snapshot(applied(projections, repeated, path / "twice.sqlite"), projections) == expected  # (b)
        shuffled = interleave(events, rng)
        assert snapshot(applied(projections, shuffled, path / "shuffled.sqlite"), projections) == expected  # (c)
        store.close()


def test_the_interleaving_really_reorders_across_aggregates():
    class E:
        def __init__(self, agg, n):
            self.originator_id, self.n = agg, n

    events = [E(agg, n) for n in range(5) for agg in "abc"]
    merged = interleave(events, random.Random(3))
    assert [e.n for e in merged if e.originator_id == "a"] == list(range(5))
    assert merged != events
