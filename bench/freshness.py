"""Freshness: from a command accepted to its lead card visible, through Kafka, at a steady command rate;
the embedded deployment under the same load is the baseline measured in the same run.

    uv run python bench/freshness.py [--rate 100] [--seconds 60] [--bootstrap HOST:PORT]

Kafka: `voronka serve` (consumers=kafka), `voronka relay` and `voronka worker` run as subprocesses against
a fresh topic of 3 partitions. Embedded: `voronka serve` alone (its projection runner follows the store's
log). Clients POST `register-interest` at the given rate over HTTP (8 threads, on a fixed schedule); a watcher
looks in the lead-card table the API reads every 5 ms for the leads of the accepted commands. Freshness =
when the card is first seen − when the POST was answered (5 ms resolution). (A GET with the command's
X-Consistency-Token answers at that moment too, plus its own 10 ms polling; polling through the API for
every command would load the API more than the commands do.)
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from uuid import UUID
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commands.deps import Deps  # noqa: E402
from commands.service import CommandService  # noqa: E402
from commands.store import EventStore  # noqa: E402
from consumers.kafka_topics import delete_topics  # noqa: E402
from projections.lead_card import cards  # noqa: E402
from schemas.auth import Caller  # noqa: E402
from schemas.employees import AddToRotation, RegisterEmployee, Role  # noqa: E402
from voronka.logging import configure_logging  # noqa: E402
from voronka.settings import Settings  # noqa: E402
from voronka.wiring import token_codec  # noqa: E402

VORONKA = str(Path(sys.executable).with_name("voronka"))
HEAD = Caller(employee="boss", role=Role.HEAD_OF_SALES)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(settings: Settings) -> None:
    store = EventStore(settings.event_store_env())
    service = CommandService(Deps(store, settings.policy()))
    service.handle(RegisterEmployee(employee_id="boss", name="Boss", role=Role.HEAD_OF_SALES), HEAD)
    for name in ("anna", "boris", "vera", "gleb"):
        service.handle(RegisterEmployee(employee_id=name, name=name, role=Role.MANAGER, sales_profile="universal"), HEAD)
        service.handle(AddToRotation(employee_id=name), HEAD)
    store.close()


def environment(settings: Settings, port: int) -> dict[str, str]:
    values = {"DATA_DIR": settings.data_dir, "CONSUMERS": settings.consumers, "KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
              "KAFKA_EVENTS_TOPIC": settings.kafka_events_topic, "KAFKA_DLQ_TOPIC": settings.kafka_dlq_topic,
              "KAFKA_GROUP": settings.kafka_group, "PORT": port, "LOG_LEVEL": "warning",
              "CONSISTENCY_TIMEOUT_SECONDS": 30}  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VORONKA_")}
    return clean | {f"VORONKA_{k}": str(v) for k, v in values.items()}


def measure(settings: Settings, rate: float, seconds: float) -> list[float]:
    port = free_port()
    env = environment(settings, port)
    names = ["serve"] + (["relay", "worker"] if settings.consumers == "kafka" else [])
    processes = [subprocess.Popen([VORONKA, name], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for name in names]
    site = {"Authorization": f"Bearer {token_codec(settings).issue('system:site', Role.INTEGRATION)}"}
    base = f"http://127.0.0.1:{port}"
    watcher = Watcher(create_engine(settings.read_models_url()))
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            wait_for_api(client)
        local = threading.local()

        def register(i: int) -> None:
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=base, timeout=60)
            body = {"channel": "site_form", "contact": {"email": f"c{i}@fresh.ru", "name": f"Клиент {i}"}}
            answer = local.client.post("/commands/register-interest", json=body, headers=site)
            accepted = time.perf_counter()
            answer.raise_for_status()
            watcher.expect(answer.json()["id"], accepted)

        watcher.start()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for i in range(20):  # warm-up: the consumers have joined and caught up
                pool.submit(register, -i - 1).result()
            time.sleep(3)
            watcher.seen.clear()
            started, count = time.perf_counter(), int(rate * seconds)
            futures = []
            for i in range(count):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(register, i))
            for future in futures:
                future.result()
            achieved = count / (time.perf_counter() - started)
        deadline = time.monotonic() + 30
        while len(watcher.seen) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        watcher.stop()
        print(f"  {settings.consumers}: {count} commands at {achieved:.0f}/s, {len(watcher.seen)} seen")
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    return list(watcher.seen.values())


class Watcher:
    """Looks in the lead-card table every 5 ms for the leads of accepted commands; notes when each appears."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.pending: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def expect(self, lead_id: str, accepted: float) -> None:
        with self.lock:
            self.pending[lead_id] = accepted

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stopping.wait(0.005):
            with self.lock:
                wanted = list(self.pending)
            if not wanted:
                continue
            with self.engine.connect() as conn:
                found = conn.execute(select(cards.c.lead_id).where(cards.c.lead_id.in_([UUID(x) for x in wanted]))).scalars()
                now = time.perf_counter()
                found = [str(x) for x in found]
            with self.lock:
                for lead_id in found:
                    self.seen[lead_id] = now - self.pending.pop(lead_id)


def wait_for_api(client: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the API did not start")


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(p * 10) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100, help="commands per second")
    parser.add_argument("--seconds", type=float, default=60, help="how long")
    parser.add_argument("--bootstrap", default=os.environ.get("VORONKA_TEST_KAFKA", "127.0.0.1:19092"))
    args = parser.parse_args()
    configure_logging("warning")
    run = uuid.uuid4().hex[:8]
    results = {}
    for mode in ("embedded", "kafka"):
        with tempfile.TemporaryDirectory() as directory:
            settings = Settings(data_dir=Path(directory), consumers=mode, kafka_bootstrap=args.bootstrap,
                                kafka_events_topic=f"bench.fresh.{run}", kafka_dlq_topic=f"bench.fresh.{run}.dlq",
                                kafka_group=f"bench.fresh.{run}")  # fmt: skip
            seed(settings)
            try:
                results[mode] = measure(settings, args.rate, args.seconds)
            finally:
                if mode == "kafka":
                    delete_topics(args.bootstrap, [settings.kafka_events_topic, settings.kafka_dlq_topic])
    print(f"{'command accepted -> lead card visible':<40}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}")
    for mode, values in results.items():
        label = "through Kafka (relay + worker)" if mode == "kafka" else "embedded runner (baseline)"
        cells = [percentile(values, p) * 1000 for p in (50, 90, 99)] + [max(values) * 1000]
        print(f"{label:<40}" + "".join(f"{c:>8.0f}" for c in cells))


if __name__ == "__main__":
    main()
