"""Prometheus metrics, owned by one registry per operator process (tests get their own)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.upstream_requests = Counter(
            "modelops_upstream_requests",
            "HTTP requests sent to upstream APIs, by upstream, method and outcome (status code or error kind).",
            ["upstream", "method", "outcome"],
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "modelops_upstream_request_seconds",
            "Latency of upstream HTTP requests.",
            ["upstream"],
            registry=self.registry,
        )
        self.upstream_retries = Counter(
            "modelops_upstream_retries",
            "Retries of upstream requests after a transient failure.",
            ["upstream"],
            registry=self.registry,
        )
        self.reconciles = Counter(
            "modelops_reconciles",
            "Reconcile passes, by kind and result.",
            ["kind", "result"],
            registry=self.registry,
        )
        self.secret_reads = Counter(
            "modelops_secret_cache_requests",
            "Credentials looked up, by result: hit (cached) or miss (read from the API server).",
            ["result"],
            registry=self.registry,
        )
        self.remote_creates = Counter(
            "modelops_remote_creates",
            "Remote objects created by the operator.",
            ["kind", "provider"],
            registry=self.registry,
        )
