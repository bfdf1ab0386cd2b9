"""Prometheus metrics: commands accepted and refused, and how far the read models lag the store.

Embedded, the lag is each projection's (events the runner has yet to apply). With Kafka workers it is the
relay's (events not yet published) and the workers' per partition (messages not yet applied)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    """One app's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.commands = Counter("voronka_commands_total", "Commands handled", ["command", "outcome"], registry=registry)
        self.store_position = Gauge("voronka_store_position", "Position of the last stored event", registry=registry)
        self.projection_lag = Gauge("voronka_projection_lag_events", "Events a projection has yet to apply",
                                    ["projection"], registry=registry)  # fmt: skip
        self.relay_lag = Gauge("voronka_relay_lag_events", "Stored events the relay has yet to publish to Kafka", registry=registry)
        self.consumer_lag = Gauge("voronka_consumer_lag_messages", "Messages the projection workers have yet to apply, "
                                  "per partition", ["partition"], registry=registry)  # fmt: skip
        self.kafka_up = Gauge("voronka_kafka_up", "1 if the broker answered the last lag check, else 0", registry=registry)

    def render_embedded(self, head: int, positions: dict[str, int]) -> bytes:
        self.store_position.set(head)
        for name, position in positions.items():
            self.projection_lag.labels(name).set(head - position)
        return generate_latest(self.registry)

    def render_kafka(self, head: int, report: dict) -> bytes:
        """`report`: what the health check answers in Kafka mode (relay lag, and consumer lag unless Kafka is down)."""
        self.store_position.set(head)
        self.relay_lag.set(report["relay_lag"])
        self.kafka_up.set(report["consumer_lag"] is not None)
        for partition, lag in (report["consumer_lag"] or {}).items():
            self.consumer_lag.labels(partition).set(lag)
        return generate_latest(self.registry)
