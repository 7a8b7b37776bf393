"""Upstream error types and their classification.

Every client raises only these, so the generic lifecycle can decide what to do without knowing the upstream:
transient errors are retried later, permanent ones need a person (Stalled), NotFound is its own case because
"already gone" is success for deletion and "deleted remotely" is drift for a live object.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError


@dataclass(eq=False)
class UpstreamError(Exception):
    """An upstream call failed. `message` is safe to show (never carries credentials)."""

    upstream: str
    message: str
    status: int | None = None
    code: str | None = None
    retry_after: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [f"{self.upstream}:"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"(code {self.code})")
        parts.append(self.message)
        return " ".join(parts)


class TransientUpstreamError(UpstreamError):
    """429, 5xx, timeouts, connection errors: retried with backoff."""


class PermanentUpstreamError(UpstreamError):
    """Other 4xx: retrying the same request cannot help."""


class AuthenticationError(PermanentUpstreamError):
    """401/403: the credentials are wrong or lack permission."""


class NotFoundError(PermanentUpstreamError):
    """404: the remote object does not exist (or no longer does)."""


class MalformedResponseError(TransientUpstreamError):
    """A 2xx answer whose body does not parse: treated as transient (proxies and crashes do this)."""


def describe_validation(error: ValidationError) -> str:
    """Every problem pydantic found in an upstream body, naming the field: "field 'sid' is required; ...".

    Only field paths and pydantic's own wording go into the message, never the values (an upstream body may
    echo something a person should not find in an Event).
    """
    problems = []
    for item in error.errors(include_url=False):
        where = _field_path(item["loc"])
        if item["type"] == "missing":
            problems.append(f"field '{where}' is required")
        elif item["input"] is None and where:
            problems.append(f"field '{where}' is null")  # the spec's nullable fields: clearer than a type
        elif where:
            problems.append(f"field '{where}' is invalid ({item['msg']})")
        else:
            problems.append(str(item["msg"]))
    return "; ".join(problems) or "does not match the contract"


def _field_path(loc: tuple[int | str, ...]) -> str:
    """``("policies", 0, "id")`` → ``policies[0].id``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ParsedError:
    message: str
    code: str | None


def parse_error_body(body: bytes, content_type: str | None) -> ParsedError:
    """Extract a readable message and code from an error body, tolerating JSON of several shapes or text.

    Shapes seen upstream: Twilio `{code, message, more_info, status}`, RFC 9457 `{type, title, detail, status}`,
    Models API `{code, message}`, FastAPI `{detail: [{loc, msg, type}]}`, and text/plain from crashes.
    """
    text = body.decode("utf-8", errors="replace").strip()
    data: Any = None
    if text and (content_type is None or "json" in content_type or text[:1] in "{["):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    if isinstance(data, dict):
        code = data.get("code")
        code_text = None if code is None else str(code)
        detail = data.get("detail")
        if isinstance(detail, list):
            return ParsedError(_format_validation_detail(detail), code_text)
        for key in ("message", "detail", "title", "error_description", "error"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return ParsedError(value, code_text)
        return ParsedError(_truncate(text), code_text)
    if _is_html(text, content_type):
        return ParsedError(_html_summary(text), None)
    return ParsedError(_truncate(text) if text else "(empty response body)", None)


def _is_html(text: str, content_type: str | None) -> bool:
    return "html" in (content_type or "").lower() or text[:100].lstrip().lower().startswith(
        ("<!doctype html", "<html")
    )


def _html_summary(text: str) -> str:
    """A gateway's or proxy's error page, named by its title (markup has no place in .status or Events)."""
    match = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    title = " ".join(html.unescape(match.group(1)).split()) if match else ""
    return f"an HTML page ({_truncate(title, 120)})" if title else "an HTML page without a title"


def _format_validation_detail(items: list[Any]) -> str:
    messages = []
    for item in items:
        if isinstance(item, dict):
            loc = ".".join(str(part) for part in item.get("loc", []) if part != "body")
            msg = item.get("msg", "invalid")
            messages.append(f"{loc}: {msg}" if loc else str(msg))
        else:
            messages.append(str(item))
    return "; ".join(messages) or "validation failed"


def _truncate(text: str, limit: int = 300) -> str:
    single_line = " ".join(text.split())
    return single_line if len(single_line) <= limit else single_line[: limit - 1] + "…"


def classify_status(
    upstream: str,
    status: int,
    body: bytes,
    content_type: str | None,
    retry_after: float | None,
) -> UpstreamError:
    parsed = parse_error_body(body, content_type)
    kwargs: dict[str, Any] = dict(
        upstream=upstream, message=parsed.message, status=status, code=parsed.code, retry_after=retry_after
    )
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientUpstreamError(**kwargs)
    if status in (401, 403):
        return AuthenticationError(**kwargs)
    if status == 404:
        return NotFoundError(**kwargs)
    return PermanentUpstreamError(**kwargs)
