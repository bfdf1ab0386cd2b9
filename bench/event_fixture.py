"""A big event store, quickly: leads worked through their lifecycle, many aggregates per transaction.

Commands run at ~1,500/s on one core, too slow to fill a store with a million events for a benchmark;
here the aggregates record their events directly (the same events, payloads and versions the commands
would write) and 200 leads are saved per transaction. About 6 events per lead.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid5

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregates.base import Context  # noqa: E402
from aggregates.lead import Lead  # noqa: E402
from commands.store import EventStore  # noqa: E402
from schemas.employees import Role  # noqa: E402
from schemas.leads import AssignmentRoute, ContactData, ContactOutcome, InterestRegistered  # noqa: E402

MANAGERS = [f"manager{i}" for i in range(8)]
CHANNELS = ["email", "site_form", "inbound_call", "exhibition", "online_chat"]
NAMESPACE = UUID("6a4c3a1e-0f7b-4f59-8a3e-3b7f2d1c9e11")
START = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def worked_lead(i: int, rng: random.Random) -> Lead:
    at = START + timedelta(minutes=7 * i)
    site = Context("system:site", Role.INTEGRATION, at)
    contact = ContactData(name=f"Клиент {i}", email=f"buyer{i}@clinic{i % 97}.ru", phone=f"+7 495 {2000000 + i}")
    interest = InterestRegistered(channel=CHANNELS[i % len(CHANNELS)], source_detail=None, contact=contact,
                                  message="Нужно коммерческое предложение", received_by="system:site", external_ref=None)  # fmt: skip
    lead = Lead.register(site, uuid5(NAMESPACE, str(i)), interest)
    holder = MANAGERS[i % len(MANAGERS)]
    lead.assign(site, holder, AssignmentRoute.ROTATION, None)
    me = Context(holder, Role.MANAGER, at + timedelta(minutes=30))
    lead.attempt_contact(me, ContactOutcome.NO_ANSWER, "")
    lead.attempt_contact(Context(holder, Role.MANAGER, at + timedelta(hours=2)), ContactOutcome.ANSWERED, "")
    later = Context(holder, Role.MANAGER, at + timedelta(hours=3))
    if rng.random() < 0.6:
        lead.qualify(later, "есть бюджет")
    else:
        lead.disqualify(later, "no_budget", None)
    return lead


def fill(store: EventStore, events: int, per_transaction: int = 200, progress=lambda stored: None) -> int:
    """Save worked leads until the store holds at least `events` events; answers the number stored."""
    rng, i = random.Random(1), 0
    while store.max_position() < events:
        store.save(*(worked_lead(i + k, rng) for k in range(per_transaction)))
        i += per_transaction
        progress(store.max_position())
    return store.max_position()
