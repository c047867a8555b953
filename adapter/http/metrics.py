"""Prometheus metrics: request counts and latency histograms, one registry per app instance."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class HttpMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        # A registry per app: tests build several apps in one process.
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dualcode_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dualcode_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        # With several workers (DUALCODE_HTTP_WORKERS) each process counts for itself and a scrape
        # reaches one of them: this says which.
        self.worker = Gauge(
            "dualcode_worker_info", "The process that answered this scrape", ["pid"], registry=self.registry
        )
        self.worker.labels(str(os.getpid())).set(1)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
