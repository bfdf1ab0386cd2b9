"""Races against a real SQLite file: the rotation stays fair, an INN is registered once."""

from __future__ import annotations

import threading
from collections import Counter
from uuid import UUID

import pytest

from aggregates.counterparty import Counterparty
from aggregates.errors import ConflictError
from aggregates.lead import Lead
from commands.deps import Deps
from commands.service import CommandService
from commands.store import ConcurrencyError, EventStore
from schemas.counterparties import CounterpartyRegistered, RegisterCounterparty
from schemas.employees import MarkAway
from schemas.leads import RegisterInterest
from tests.conftest import HEAD, MANAGERS, SITE, ctx

pytestmark = pytest.mark.integration
ORG = {"inn": "7707083893", "kpp": "773601001", "name": "ПАО Сбербанк"}


def run_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("shared_store", [True, False], ids=["one-store", "store-per-thread"])
def test_rotation_is_fair_under_concurrent_registrations(department, store, app_settings, shared_store):
    department.handle(MarkAway(employee_id="vera"), HEAD)
    available = [m for m in MANAGERS if m != "vera"]
    threads, per_thread = 6, 15
    stores = [store if shared_store else EventStore(app_settings.event_store_env()) for _ in range(threads)]
    services = [CommandService(Deps(s, app_settings.policy())) for s in stores]

    def register(i: int) -> list[str]:
        contact = {"email": f"t{i}@example.ru"}
        return [services[i].handle(RegisterInterest(channel="site_form", contact=contact), SITE).id for _ in range(per_thread)]

    results = run_threads(threads, register)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    lead_ids = [UUID(i) for ids in results for i in ids]
    holders = Counter(store.get(Lead, lead_id).holder for lead_id in lead_ids)
    n, m = len(lead_ids), len(available)
    assert set(holders) == set(available), holders
    assert all(n // m <= count <= -(-n // m) for count in holders.values()), holders

    slots = [e.payload.subject_id for _, e in store.read(topics=["RotationAdvanced"])]
    assert len(slots) == n and len(set(slots)) == n, "a lead took two slots, or a slot was lost"


def test_two_racing_registrations_of_one_inn_give_one_counterparty(department, store, app_settings):
    stores = [EventStore(app_settings.event_store_env()) for _ in range(8)]
    services = [CommandService(Deps(s, app_settings.policy())) for s in stores]
    results = run_threads(8, lambda i: services[i].handle(RegisterCounterparty(counterparty=ORG), HEAD))
    created = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, ConflictError)]
    assert len(created) == 1 and len(refused) == 7, results
    assert {str(r.existing_id) for r in refused} == {created[0].id}
    assert "already exists" in refused[0].message


def test_a_registration_losing_the_race_is_refused_with_the_existing_id(department, store, monkeypatch):
    """Both requests pass the existence check; the loser's save conflicts, is retried, and refused."""
    winner = department.handle(RegisterCounterparty(counterparty=ORG), HEAD)
    real_load, hidden = store.load, []

    def load_missing_once(cls, aggregate_id):
        if cls is Counterparty and not hidden:
            hidden.append(aggregate_id)
            return None
        return real_load(cls, aggregate_id)

    monkeypatch.setattr(store, "load", load_missing_once)
    with pytest.raises(ConflictError) as refused:
        department.handle(RegisterCounterparty(counterparty=ORG), HEAD)
    assert hidden and str(refused.value.existing_id) == winner.id


def test_creating_an_existing_counterparty_directly_conflicts_in_the_store(store):
    details = CounterpartyRegistered(owner=None, onec_id=None, address=None, **ORG)
    store.save(Counterparty.register(ctx(), details))
    with pytest.raises(ConcurrencyError):
        store.save(Counterparty.register(ctx(), details))
