"""Commands per second on a SQLite file, against the bare `eventsourcing` library saving the same events.

    uv run python bench/commands.py [--leads N] [--lifecycles N]

Each scenario runs in a fresh process pinned to one core. The baseline replays exactly the
transactions Voronka wrote (same aggregates, same events, same JSON payloads, same grouping),
through a plain `eventsourcing` Application with a generic aggregate: what is left is the cost
of our layers (validation, rules, mapping, retries). Ratios are what to judge; absolute figures
move with the machine.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fresh_process import in_process, peak_rss_mb  # noqa: E402
from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402

from aggregates.catalog import product_id  # noqa: E402
from aggregates.lead import Lead  # noqa: E402
from commands.deps import Deps  # noqa: E402
from commands.service import CommandService  # noqa: E402
from commands.store import EventStore  # noqa: E402
from schemas import deals as d, leads as ld, needs as n  # noqa: E402
from schemas.auth import Caller  # noqa: E402
from schemas.catalog import ImportCatalog, ProductRecord  # noqa: E402
from schemas.employees import AddToRotation, RegisterEmployee, Role  # noqa: E402
from voronka.logging import configure_logging  # noqa: E402
from voronka.settings import Settings  # noqa: E402

HEAD = Caller(employee="boss", role=Role.HEAD_OF_SALES)
SITE = Caller(employee="system:site", role=Role.INTEGRATION)
MANAGERS = [f"manager{i}" for i in range(8)]


class RecordingStore(EventStore):
    """Keeps the shape of every transaction: [(aggregate id, [payload as JSON, ...]), ...]."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        self.transactions: list[list[tuple[uuid.UUID, list[dict]]]] = []

    def save(self, *aggregates):
        shape = [(a.id, [e.payload.model_dump(mode="json") for e in a._pending]) for a in aggregates if a._pending]
        position = super().save(*aggregates)
        self.transactions.append(shape)
        return position


class Bare(Aggregate):
    @event("Created")
    def __init__(self, id: uuid.UUID, data: dict) -> None:  # noqa: A002
        pass

    @event("Happened")
    def happened(self, data: dict) -> None:
        pass


def setup(service: CommandService) -> None:
    service.handle(RegisterEmployee(employee_id="boss", name="Boss", role=Role.HEAD_OF_SALES), HEAD)
    for m in MANAGERS:
        service.handle(RegisterEmployee(employee_id=m, name=m, role=Role.MANAGER, sales_profile="universal"), HEAD)
        service.handle(AddToRotation(employee_id=m), HEAD)
    records = [ProductRecord(onec_id=f"p{i}", name=f"Товар {i}", registry_code="РЗН 2019/1") for i in range(50)]
    service.handle(ImportCatalog(source="bench", records=records), HEAD)


def register(service: CommandService, i: int):
    contact = {"name": "Иван Петров", "email": f"buyer{i}@clinic.ru", "phone": f"+7 495 {2000000 + i}"}
    return service.handle(ld.RegisterInterest(channel="site_form", contact=contact, message="КП", external_ref=f"f{i}"), SITE)


def lifecycle(service: CommandService, i: int, rng: random.Random) -> int:
    """lead -> qualified -> counterparty -> need -> deal -> won: 15 commands."""
    lead_id = uuid.UUID(register(service, 10_000_000 + i).id)
    holder = service.deps.store.get(Lead, lead_id).holder
    me = Caller(employee=holder, role=Role.MANAGER)
    inn = valid_inn(rng)
    steps = [
        ld.RecordContactAttempt(lead_id=lead_id, outcome="answered"),
        ld.QualifyLead(lead_id=lead_id),
        ld.ConvertLead(lead_id=lead_id, counterparty={"inn": inn, "kpp": "773601001", "name": f"ООО Клиника {i}"}),
    ]
    for step in steps:
        service.handle(step, me)
    counterparty_id = service.deps.store.get(Lead, lead_id).counterparty_id
    items = [{"product_id": product_id(f"p{k}"), "quantity": 10, "period": {"start": "2026-12-01", "end": "2026-12-31"}}
             for k in rng.sample(range(50), 3)]  # fmt: skip
    need_id = uuid.UUID(service.handle(n.RegisterNeed(counterparty_id=counterparty_id, lead_id=lead_id, items=items), me).id)
    deal_id = uuid.UUID(service.handle(n.ConvertNeedToDeal(need_id=need_id), me).id)
    lines = [{"product_id": it["product_id"], "quantity": 10, "unit_price": "150.00"} for it in items]
    today = date(2026, 11, 23)
    for step in [
        d.IssueProposal(deal_id=deal_id, lines=lines),
        d.StartNegotiation(deal_id=deal_id),
        d.SendDocuments(deal_id=deal_id, invoice_number=f"INV-{i}", contract_number=f"C-{i}"),
        d.SignContract(deal_id=deal_id, signed_on=today),
        d.RecordPayment(deal_id=deal_id, amount="4500.00", paid_on=today),
        d.StartFulfilment(deal_id=deal_id, mode="own_stock"),
        d.RecordShipment(deal_id=deal_id, items=[{"product_id": it["product_id"], "quantity": 10} for it in items], shipped_on=today),
        d.ReceiveClosingDocuments(deal_id=deal_id),
        d.WinDeal(deal_id=deal_id),
    ]:
        service.handle(step, me)
    return 15


def valid_inn(rng: random.Random) -> str:
    digits = [rng.randint(0, 9) for _ in range(9)]
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    digits.append(sum(w * x for w, x in zip(weights, digits, strict=True)) % 11 % 10)
    return "".join(map(str, digits))


def run_voronka(scenario: str, count: int, directory: str, queue: mp.Queue) -> None:
    os.sched_setaffinity(0, {0})
    configure_logging("warning")
    settings = Settings(data_dir=Path(directory))
    store = RecordingStore(settings.event_store_env())
    service = CommandService(Deps(store, settings.policy()))
    setup(service)
    store.transactions.clear()
    rng = random.Random(1)
    started = time.perf_counter()
    commands = 0
    for i in range(count):
        if scenario == "register":
            register(service, i)
            commands += 1
        else:
            commands += lifecycle(service, i, rng)
    elapsed = time.perf_counter() - started
    queue.put((commands / elapsed, peak_rss_mb(), store.transactions, store.max_position()))


def run_baseline(transactions, directory: str, queue: mp.Queue) -> None:
    os.sched_setaffinity(0, {0})
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{directory}/bare.sqlite",
           "AGGREGATE_CACHE_MAXSIZE": "1000"}  # fmt: skip
    app = Application(env=env)
    known: set[uuid.UUID] = set()
    started = time.perf_counter()
    for transaction in transactions:
        aggregates = []
        for aggregate_id, payloads in transaction:
            if aggregate_id in known:
                aggregate = app.repository.get(aggregate_id)
                first = 0
            else:
                aggregate, first = Bare(id=aggregate_id, data=payloads[0]), 1
                known.add(aggregate_id)
            for payload in payloads[first:]:
                aggregate.happened(data=payload)
            aggregates.append(aggregate)
        app.save(*aggregates)
    elapsed = time.perf_counter() - started
    queue.put((len(transactions) / elapsed, peak_rss_mb()))


def run_ceiling(count: int, directory: str, queue: mp.Queue) -> None:
    """The machine's ceiling: the bare library saving one trivial new aggregate per transaction."""
    os.sched_setaffinity(0, {0})
    app = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{directory}/ceiling.sqlite"})
    started = time.perf_counter()
    for _ in range(count):
        app.save(Bare(id=uuid.uuid4(), data={}))
    queue.put((count / (time.perf_counter() - started), peak_rss_mb()))


def scenario(name: str, count: int) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        rate, rss, transactions, events = in_process(run_voronka, name, count, directory)
        commands_per_tx = (count if name == "register" else count * 15) / len(transactions)
        base_tx_rate, base_rss = in_process(run_baseline, transactions, directory)
    base_rate = base_tx_rate * commands_per_tx
    return {"scenario": name, "voronka": rate, "baseline": base_rate, "ratio": rate / base_rate,
            "peak_rss_mb": rss, "baseline_rss_mb": base_rss, "events": events}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=5000, help="registrations in scenario (a)")
    parser.add_argument("--lifecycles", type=int, default=300, help="full lifecycles in scenario (b)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        ceiling, _ = in_process(run_ceiling, args.leads, directory)
    print(f"machine ceiling: bare eventsourcing, one trivial event per transaction: {ceiling:,.0f} saves/s")
    print(f"{'scenario':<22}{'voronka cmd/s':>14}{'baseline cmd/s':>16}{'ratio':>8}{'peak RSS MB':>13}")
    for name, count in (("register", args.leads), ("lifecycle", args.lifecycles)):
        r = scenario(name, count)
        label = "(a) register+assign" if name == "register" else "(b) full lifecycle"
        print(f"{label:<22}{r['voronka']:>14,.0f}{r['baseline']:>16,.0f}{r['ratio']:>8.2f}{r['peak_rss_mb']:>13.0f}")


if __name__ == "__main__":
    main()
