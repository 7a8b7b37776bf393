"""Prometheus metrics, owned by one registry per operator process (tests get their own).

Conventions: counters end in `_total` (the client adds it), durations are `_seconds` histograms, and labels
have bounded values only: kinds, phases, condition types, upstream names, route templates, outcomes. Never a
resource name, a namespace or a remote id. The README's metrics table lists every one of them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Upstream latencies: from a fast local fake (milliseconds) to the 30 s default timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Reconcile passes include upstream calls and their retries.
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        # --- the resources ----------------------------------------------------------------------------------
        self.resources = Gauge(
            "modelops_resources",
            'Live resources by kind and phase (phase "" before the first status).',
            ["kind", "phase"],
            registry=r,
        )
        self.resource_conditions = Gauge(
            "modelops_resource_conditions",
            "Live resources by kind, condition type and condition status (True, False, Unknown).",
            ["kind", "type", "status"],
            registry=r,
        )
        self.reconcile_duration = Histogram(
            "modelops_reconcile_duration_seconds",
            "Time of one reconcile pass, by kind and outcome (ok, stalled, retrying, error).",
            ["kind", "outcome"],
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.remote_creates = Counter(
            "modelops_remote_creates",
            "Remote objects created by the operator, by kind and provider.",
            ["kind", "provider"],
            registry=r,
        )
        # --- the upstreams ----------------------------------------------------------------------------------
        self.upstream_requests = Counter(
            "modelops_upstream_requests",
            "HTTP requests sent to upstream APIs, by upstream, route (the path template) and outcome "
            "(the status code, or timeout, connect-error, transport-error).",
            ["upstream", "route", "outcome"],
            registry=r,
        )
        self.upstream_duration = Histogram(
            "modelops_upstream_request_duration_seconds",
            "Latency of upstream HTTP requests, by upstream and route.",
            ["upstream", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_retries = Counter(
            "modelops_upstream_retries",
            "Retries of upstream requests after a transient failure, by upstream.",
            ["upstream"],
            registry=r,
        )
        self.upstream_wait = Counter(
            "modelops_upstream_wait_seconds",
            "Time spent waiting before retrying upstream requests, by upstream and cause (retry_after: the "
            "upstream's Retry-After; backoff: the operator's own backoff).",
            ["upstream", "cause"],
            registry=r,
        )
        self.poll_batch = Histogram(
            "modelops_poll_batch_size",
            "Resources answered by one coalesced observation (one list of a parent), by kind and upstream.",
            ["kind", "upstream"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        # --- pushed status and credentials ------------------------------------------------------------------
        self.callbacks = Counter(
            "modelops_callbacks",
            "Status callbacks received, by upstream and result (accepted, rejected).",
            ["upstream", "result"],
            registry=r,
        )
        self.secret_reads = Counter(
            "modelops_secret_cache_requests",
            "Credentials looked up, by result: hit (cached) or miss (read from the API server).",
            ["result"],
            registry=r,
        )
