"""Outbox figures in the app's Prometheus registry: deliveries by outcome, and events by status."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

STATUSES = ("pending", "delivering", "delivered", "dead")


class OutboxMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "dualcode_outbox_delivery_attempts",
            "Delivery attempts to hospital destinations, by outcome (delivered, failed, dead)",
            ["destination", "outcome"],
            registry=registry,
        )
        self.events = Gauge(
            "dualcode_outbox_events",
            "Outbox events by status (dead = dead letters)",
            ["status"],
            registry=registry,
        )
        self.fanned_out = Counter(
            "dualcode_outbox_fanned_out",
            "Events expanded from '*' to per-destination events",
            registry=registry,
        )
        for status in STATUSES:
            self.events.labels(status).set(0)

    def observe(self, destination: str, outcome: str) -> None:
        self.attempts.labels(destination, outcome).inc()

    def set_counts(self, counts: dict[str, int]) -> None:
        for status in STATUSES:
            self.events.labels(status).set(counts.get(status, 0))
