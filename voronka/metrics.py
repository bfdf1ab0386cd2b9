"""Prometheus metrics: commands accepted and refused, and how far each read model lags the store."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

registry = CollectorRegistry()
commands = Counter("voronka_commands_total", "Commands handled", ["command", "outcome"], registry=registry)
store_position = Gauge("voronka_store_position", "Position of the last stored event", registry=registry)
projection_lag = Gauge("voronka_projection_lag_events", "Events a projection has yet to apply", ["projection"], registry=registry)


def render(store_head: Callable[[], int], positions: Callable[[], dict[str, int]]) -> bytes:
    head = store_head()
    store_position.set(head)
    for name, position in positions().items():
        projection_lag.labels(name).set(head - position)
    return generate_latest(registry)
