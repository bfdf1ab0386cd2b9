"""Query latency on the benchmark data set, against a bare FastAPI route doing the same select.

    uv run python bench/api.py [--events 1000000] [--rate 20] [--seconds 15]

The read models are projected once from the demo-generated store (bench/dataset.py). Two servers run
side by side, each one uvicorn worker in its own process: Voronka's app, and a bare FastAPI app whose
routes run the same select on the same tables with no authentication, validation or visibility rules.
Requests go out at a fixed rate (open loop: a slow answer does not delay the next request), and latency
is measured from the moment each request was due. Ratios are what to judge.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dataset import DEFAULT_DIR, ensure_store  # noqa: E402
from voronka.settings import Settings  # noqa: E402

VORONKA_PORT, BARE_PORT = 18765, 18766


def project(settings: Settings) -> None:
    """Bring the data set's read models up to the end of the log (once; later runs find them caught up)."""
    from voronka.logging import configure_logging
    from voronka.wiring import bootstrap

    configure_logging("warning", False)
    container = bootstrap(settings)
    started = time.perf_counter()
    container.runner.run_until_caught_up(5000)
    print(f"read models caught up in {time.perf_counter() - started:.0f} s", flush=True)


def voronka_app():
    """Voronka's app without the background consumers (the read models are already caught up)."""
    from voronka.logging import configure_logging
    from voronka.wiring import bootstrap, create_app

    configure_logging("warning", False)
    app = create_app(bootstrap(Settings(data_dir=Path(os.environ["BENCH_DATA_DIR"]))))

    @asynccontextmanager
    async def no_consumers(_):
        yield

    app.router.lifespan_context = no_consumers
    return app


def bare_app():
    """The same selects, nothing else."""
    from datetime import date, timedelta

    from fastapi import FastAPI
    from sqlalchemy import create_engine, func, select

    from projections.kpi import days
    from projections.lead_card import cards
    from projections.needs import needs

    engine = create_engine(Settings(data_dir=Path(os.environ["BENCH_DATA_DIR"])).read_models_url())
    app = FastAPI()

    @app.get("/leads/{lead_id}")
    def lead(lead_id: str) -> dict:
        import uuid

        with engine.connect() as conn:
            return dict(conn.execute(select(cards).where(cards.c.lead_id == uuid.UUID(lead_id))).mappings().one())

    @app.get("/needs")
    def open_needs() -> list[dict]:
        with engine.connect() as conn:
            rows = conn.execute(select(needs).where(needs.c.status == "open").order_by(needs.c.number).limit(101))
            return [dict(r) for r in rows.mappings()]

    @app.get("/reports/kpi")
    def kpi() -> list[list]:
        first = (date.today().replace(day=1) - timedelta(days=62)).replace(day=1)
        statement = (
            select(days.c.employee, days.c.month, func.sum(days.c.calls), func.sum(days.c.call_seconds))
            .where(days.c.day.between(first, date.today())).group_by(days.c.employee, days.c.month)
        )  # fmt: skip
        with engine.connect() as conn:
            return [list(r) for r in conn.execute(statement)]

    return app


def serve(factory: str, port: int, data_dir: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "--factory", f"bench.api:{factory}", "--port", str(port),
               "--workers", "1", "--log-level", "warning"]  # fmt: skip
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(command, cwd=root, env={**os.environ, "BENCH_DATA_DIR": str(data_dir), "PYTHONPATH": str(root)})
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{factory} did not start on port {port}")


def load(url_of, headers: dict, rate: float, seconds: float) -> list[float]:
    """Open-loop requests at a fixed rate; answers latencies in ms, from when each request was due.

    Each worker thread keeps one connection, opened and used once before the clock starts."""
    latencies: list[float] = []
    local = threading.local()
    workers = 16

    def connect() -> None:
        local.client = httpx.Client(timeout=60)
        local.client.get(url_of(0), headers=headers)

    def one(i: int) -> None:
        due = start + i / rate
        time.sleep(max(0.0, due - time.perf_counter()))
        response = local.client.get(url_of(i), headers=headers)
        latencies.append((time.perf_counter() - due) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url_of(i)} answered {response.status_code}: {response.text[:200]}")

    with ThreadPoolExecutor(max_workers=workers, initializer=connect) as pool:
        list(pool.map(lambda _: time.sleep(0.05), range(workers * 4)))  # every thread connected and warm
        start = time.perf_counter() + 0.2
        list(pool.map(one, range(int(rate * seconds))))
    return latencies


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--rate", type=float, default=20, help="requests per second for the lead card and the needs list")
    parser.add_argument("--report-rate", type=float, default=2, help="requests per second for the KPI report")
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    settings = ensure_store(args.dir, args.events)
    project(settings)

    from sqlalchemy import create_engine, select

    from projections.lead_card import cards
    from voronka.security import TokenCodec
    from datetime import timedelta

    with create_engine(settings.read_models_url()).connect() as conn:
        leads = [str(r[0]) for r in conn.execute(select(cards.c.lead_id))]
    rng = random.Random(7)
    sample = [rng.choice(leads) for _ in range(int(args.rate * args.seconds))]
    token = TokenCodec(settings.secret_key.get_secret_value(), timedelta(hours=1)).issue("rop", "head_of_sales")
    routes = {
        "lead card": (lambda i: f"/leads/{sample[i]}", args.rate),
        "needs list (open, 100)": (lambda i: "/needs?status=open&limit=100", args.rate),
        "KPI report (3 months)": (lambda i: "/reports/kpi", args.report_rate),
    }
    servers = [serve("voronka_app", VORONKA_PORT, settings.data_dir), serve("bare_app", BARE_PORT, settings.data_dir)]
    try:
        print(f"{len(leads):,} leads; each route for {args.seconds:g} s at its rate; latency in ms")
        print(f"{'route':26}{'req/s':>7}{'p50':>8}{'p99':>8}{'bare p50':>10}{'bare p99':>10}{'p99 ratio':>11}")
        for name, (path, rate) in routes.items():
            ours = load(lambda i: f"http://127.0.0.1:{VORONKA_PORT}{path(i)}", {"Authorization": f"Bearer {token}"},
                        rate, args.seconds)  # fmt: skip
            bare = load(lambda i: f"http://127.0.0.1:{BARE_PORT}{path(i)}", {}, rate, args.seconds)
            p50, p99, b50, b99 = percentile(ours, 50), percentile(ours, 99), percentile(bare, 50), percentile(bare, 99)
            print(f"{name:26}{rate:>7g}{p50:>8.1f}{p99:>8.1f}{b50:>10.1f}{b99:>10.1f}{p99 / b99:>11.2f}")
        print("targets: p99 < 20 ms for the lead card, < 50 ms for reports, on one uvicorn worker")
    finally:
        for server in servers:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
