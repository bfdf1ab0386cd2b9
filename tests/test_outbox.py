"""Surveys and notifications reach a real SMTP server and an HTTP webhook, once per triggering event."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, delete, select

from consumers.outbox import Deliverer, OutboxCollector, SmtpSender, deliveries
from consumers.process_runner import ProcessRunner
from projections.base import tracking
from schemas import counterparties as c, deals as d, needs as n
from tests.conftest import HEAD, manager, product

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(envelope.content.decode())
        return "250 OK"


@pytest.fixture
def smtp():
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def chat():
    received: list = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Idempotency-Key"], json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield received, f"http://127.0.0.1:{server.server_address[1]}/chat"
    server.shutdown()


def lose_a_deal(service) -> UUID:
    client = UUID(service.handle(c.RegisterCounterparty(
        counterparty={"inn": "7707083893", "kpp": "773601001", "name": "ООО К"}, owner="anna",
        contacts=[{"name": "Ирина", "email": "irina@gkb7.ru"}]), HEAD).id)  # fmt: skip
    items = [{"product_id": product(0), "quantity": 1, "period": {"start": "2026-12-01", "end": "2026-12-31"}}]
    need = service.handle(n.RegisterNeed(counterparty_id=client, items=items), manager("anna"))
    deal = UUID(service.handle(n.ConvertNeedToDeal(need_id=need.id), manager("anna")).id)
    service.handle(d.LoseDeal(deal_id=deal, reason="price"), manager("anna"))
    return deal


def test_a_lost_deal_mails_the_head_of_sales_and_the_client_and_posts_to_chat_once(department, store, tmp_path, smtp, chat):
    inbox, port = smtp
    received, url = chat
    engine = create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    lose_a_deal(department)
    runner = ProcessRunner(engine, store.read_batch, OutboxCollector(engine, url), "outbox")
    runner.run_until_caught_up()
    deliverer = Deliverer(engine, SmtpSender("127.0.0.1", port, "crm@voronka.test"))
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert deliverer.deliver_due(later) == 3

    assert sorted(m.split("To: ")[1].split("\n")[0].strip() for m in inbox.messages) == ["boss@voronka.test", "irina@gkb7.ru"]
    assert all("Message-ID: <" in m for m in inbox.messages)
    assert [body["kind"] for _, body in received] == ["deal_lost"] and received[0][0]

    with engine.begin() as conn:  # a replay from the start, as after a lost position or a rebuild
        conn.execute(delete(tracking))
    ProcessRunner(engine, store.read_batch, OutboxCollector(engine, url), "outbox").run_until_caught_up()
    assert deliverer.deliver_due(later + timedelta(hours=1)) == 0
    assert len(inbox.messages) == 2 and len(received) == 1


def test_a_failed_delivery_is_retried_with_back_off(department, store, tmp_path, smtp):
    inbox, port = smtp
    engine = create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    lose_a_deal(department)
    ProcessRunner(engine, store.read_batch, OutboxCollector(engine, None), "outbox").run_until_caught_up()
    now = datetime.now(UTC) + timedelta(minutes=1)
    assert Deliverer(engine, SmtpSender("127.0.0.1", free_port(), "crm@voronka.test")).deliver_due(now) == 0
    with engine.connect() as conn:
        failed = conn.execute(select(deliveries)).mappings().all()
    assert all(r["attempts"] == 1 and r["last_error"] for r in failed)
    working = Deliverer(engine, SmtpSender("127.0.0.1", port, "crm@voronka.test"))
    assert working.deliver_due(now) == 0  # backing off
    assert working.deliver_due(now + timedelta(seconds=2)) == 2 and len(inbox.messages) == 2
