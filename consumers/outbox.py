"""Surveys and notifications, delivered through an outbox: SMTP e-mail and a team-chat webhook.

Each delivery has a stable key derived from the event that requested it (the e-mail's Message-ID,
the webhook's Idempotency-Key). Requests are written once per key, so a replay or a rebuild never
requests a delivery again; sending is retried with back-off and recorded when done. At-least-once
with a stable key is what an SMTP server can be promised: the key lets the receiver drop a repeat.
"""

from __future__ import annotations

import json
import smtplib
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import structlog
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, Text, select, update

from projections.base import insert

from schemas.base import Event
from schemas.employees import EmployeeRegistered
from schemas.notifications import NotificationRequested, SurveyRequested

log = structlog.get_logger("voronka.outbox")
metadata = MetaData()
deliveries = Table(
    "outbox_deliveries",
    metadata,
    Column("key", String, primary_key=True),
    Column("channel", String, nullable=False),  # email | webhook
    Column("recipient", String, nullable=False),
    Column("subject", String, nullable=False),
    Column("body", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("delivered_at", DateTime),
    Column("last_error", String),
)
SURVEY_TEXT = {
    "farewell": "Спасибо, что обратились к нам. Оцените, пожалуйста, нашу работу по шкале от 0 до 10.",
    "quality": "Спасибо за сделку! Насколько вероятно, что вы порекомендуете нас коллегам (0–10)?",
}


@dataclass
class OutboxCollector:
    """A process manager: turns requesting events into deliveries (one row per stable key)."""

    engine: Engine
    webhook_url: str | None
    employees: dict[str, EmployeeRegistered] = field(default_factory=dict)

    def __post_init__(self) -> None:
        metadata.create_all(self.engine)

    def observe(self, event: Event, act: bool) -> None:
        p = event.payload
        if isinstance(p, EmployeeRegistered):
            self.employees[p.employee_id] = p
        elif act and isinstance(p, NotificationRequested | SurveyRequested):
            self._request(event.occurred_at, list(self._deliveries(p)))

    def _deliveries(self, p):
        if isinstance(p, SurveyRequested):
            yield (f"{p.survey_id}", "email", p.recipient, "Ваше мнение о нашей работе", SURVEY_TEXT[p.kind])
            return
        for address in self._addresses(p.recipients):
            yield (f"{p.notification_id}/{address}", "email", address, f"Voronka: {p.kind}", p.summary)
        if self.webhook_url:
            yield (f"{p.notification_id}/chat", "webhook", self.webhook_url, p.kind, p.summary)

    def _addresses(self, recipients: list[str]) -> list[str]:
        people = [
            e for e in self.employees.values()
            if e.employee_id in recipients or f"role:{e.role}" in recipients
        ]  # fmt: skip
        return sorted({e.email for e in people if e.email})

    def _request(self, at: datetime, rows: list[tuple]) -> None:
        with self.engine.begin() as conn:
            for key, channel, recipient, subject, body in rows:
                values = dict(key=key, channel=channel, recipient=recipient, subject=subject, body=body,
                              attempts=0, next_attempt_at=at.astimezone(UTC).replace(tzinfo=None))  # fmt: skip
                conn.execute(insert(deliveries).values(**values).on_conflict_do_nothing())


@dataclass
class SmtpSender:
    host: str
    port: int
    sender: str

    def __call__(self, key: str, recipient: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, recipient, subject
        message["Message-ID"] = f"<{key.replace('/', '.')}@voronka>"
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(message)


def post_webhook(key: str, url: str, subject: str, body: str) -> None:
    data = json.dumps({"kind": subject, "text": body}, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json", "Idempotency-Key": key})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - a configured URL
        response.read()


@dataclass
class Deliverer:
    engine: Engine
    send_email: Callable[[str, str, str, str], None]
    post: Callable[[str, str, str, str], None] = post_webhook
    max_backoff: timedelta = timedelta(hours=1)

    def deliver_due(self, now: datetime) -> int:
        """Send what is due; answers how many were delivered."""
        naive_now = now.astimezone(UTC).replace(tzinfo=None)
        due = select(deliveries).where(deliveries.c.delivered_at.is_(None), deliveries.c.next_attempt_at <= naive_now)
        with self.engine.connect() as conn:
            rows = conn.execute(due.limit(100)).mappings().all()
        return sum(self._attempt(row, naive_now) for row in rows)

    def _attempt(self, row, now: datetime) -> bool:
        send = self.send_email if row["channel"] == "email" else self.post
        try:
            send(row["key"], row["recipient"], row["subject"], row["body"])
        except Exception as exc:  # noqa: BLE001 - any failure is retried later and recorded
            backoff = min(timedelta(seconds=2 ** row["attempts"]), self.max_backoff)
            values = {"attempts": row["attempts"] + 1, "next_attempt_at": now + backoff, "last_error": str(exc)[:500]}
            log.warning("delivery_failed", key=row["key"], attempts=values["attempts"], error=values["last_error"])
            delivered = False
        else:
            values, delivered = {"attempts": row["attempts"] + 1, "delivered_at": now, "last_error": None}, True
            log.info("delivered", key=row["key"], channel=row["channel"])
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.key == row["key"]).values(**values))
        return delivered
