"""Operator configuration, from MODELOPS_* environment variables (documented in the README and Helm values)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field

from modelops_operator.providers.http import HttpPolicy

PREFIX = "MODELOPS_"


class Settings(BaseModel):
    twilio_autopilot_url: str = Field(
        default="https://autopilot.twilio.com", description="Root URL of Twilio Autopilot (no /v1)."
    )
    twilio_assistants_url: str = Field(
        default="https://assistants.twilio.com", description="Root URL of Twilio Assistants (no /v1)."
    )
    models_api_url: str | None = Field(
        default=None, description="Root URL of the Models API (no /v1); no default."
    )
    datarobot_url: str = Field(
        default="https://app.datarobot.com", description="Root URL of DataRobot (no /api/v2)."
    )
    poll_interval_seconds: float = Field(
        default=10.0, gt=0, description="Tick of the fast poll while remote objects are not terminal."
    )
    drift_interval_seconds: float = Field(
        default=300.0, gt=0, description="Tick of the slow drift check once remote objects are terminal."
    )
    timeout_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Default limit for a remote lifecycle (spec.polling.timeoutSeconds wins).",
    )
    http_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of one upstream HTTP request."
    )
    http_max_attempts: int = Field(
        default=4, ge=1, description="Attempts per upstream request on transient errors."
    )
    backoff_base_seconds: float = Field(
        default=0.5, ge=0, description="First retry delay; doubles each retry."
    )
    backoff_max_seconds: float = Field(
        default=60.0, ge=0, description="Longest retry delay without Retry-After."
    )
    max_retry_after_seconds: float = Field(default=300.0, ge=0, description="Longest Retry-After honoured.")
    coalesce_polling: bool = Field(
        default=True,
        description="Observe resources of one parent with one list per interval (false: one read per resource).",
    )
    secret_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a credentials Secret, once read, is used before it is read again (0: every time).",
    )
    credentials_recheck_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Longest wait before a resource held up by a missing or wrong Secret reads it again.",
    )
    max_concurrent_passes: int = Field(
        default=32,
        ge=1,
        description="Reconcile passes run at once per kind; the rest wait their turn (thousands applied together "
        "queue here, not in the HTTP clients).",
    )
    upstream_concurrency: int = Field(default=8, ge=1, description="Concurrent requests per upstream.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    log_format: Literal["text", "json"] = Field(default="text", description="Log format.")
    metrics_port: int = Field(default=8080, ge=0, le=65535, description="Port of /metrics (0 disables).")
    callback_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of the status callback endpoint (Twilio Autopilot builds); 0 turns callbacks off.",
    )
    callback_base_url: str | None = Field(
        default=None,
        description="URL at which the callback port is reachable from the upstream (e.g. https://hooks.example.com); "
        "callbacks are requested only when it is set.",
    )
    health_port: int = Field(
        default=8081, ge=0, le=65535, description="Port of the liveness endpoint /healthz."
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {}
        for name in cls.model_fields:
            key = PREFIX + name.upper()
            if key in env and env[key] != "":
                values[name] = env[key]
        return cls.model_validate(values)

    def http_policy(self) -> HttpPolicy:
        return HttpPolicy(
            timeout_seconds=self.http_timeout_seconds,
            max_attempts=self.http_max_attempts,
            backoff_base_seconds=self.backoff_base_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
            max_retry_after_seconds=self.max_retry_after_seconds,
            concurrency=self.upstream_concurrency,
        )


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, description) rows for the README and the Helm values."""
    rows = []
    for name, info in Settings.model_fields.items():
        if info.default is None:
            default = ""
        elif isinstance(info.default, bool):
            default = "true" if info.default else "false"  # as an environment variable is written
        else:
            default = str(info.default)
        rows.append((PREFIX + name.upper(), default, info.description or ""))
    return rows
