"""What one operator process shares between kinds: settings, metrics, the Kubernetes and upstream clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import kopf

from modelops_operator.api.crd import KindDefinition
from modelops_operator.config import Settings
from modelops_operator.core.kube import KubeClient
from modelops_operator.core.lifecycle import EventSink, Lifecycle, kopf_events
from modelops_operator.core.secrets import SecretCache
from modelops_operator.core.shard import LabelSelector
from modelops_operator.metrics import Metrics
from modelops_operator.providers.http import UpstreamHTTP


@dataclass
class RuntimeContext:
    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    events: EventSink = kopf_events
    connection: kopf.ConnectionInfo | None = None
    shard: LabelSelector | None = None
    kube: KubeClient = field(init=False)
    # One cache for every kind: resources of different kinds often share a Secret.
    secrets: SecretCache = field(init=False)
    _upstreams: dict[str, UpstreamHTTP] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.kube = KubeClient(lambda: self.connection, timeout=self.settings.http_timeout_seconds)
        self.secrets = SecretCache(self.kube, self.settings.secret_cache_seconds, self.metrics)

    def upstream(self, name: str, base_url: str | None) -> UpstreamHTTP:
        """One HTTP policy (pool, concurrency limit) per upstream, shared by every resource."""
        if name not in self._upstreams:
            self._upstreams[name] = UpstreamHTTP(
                name,
                base_url or "http://unconfigured.invalid",
                self.settings.http_policy(),
                metrics=self.metrics,
            )
        return self._upstreams[name]

    def lifecycle(self, kind: KindDefinition, providers: list[Any], **options: Any) -> Lifecycle:
        return Lifecycle(
            kind,
            providers,
            self.kube,
            self.settings,
            self.metrics,
            self.events,
            secrets=self.secrets,
            shard=self.shard,
            **options,
        )

    async def aclose(self) -> None:
        for upstream in self._upstreams.values():
            await upstream.aclose()
        await self.kube.aclose()
