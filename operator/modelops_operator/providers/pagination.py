"""Helpers shared by clients that follow an upstream's pagination links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from modelops_operator.providers.errors import MalformedResponseError
from modelops_operator.providers.http import ModelT, UpstreamHTTP, parse_json, validate_model

__all__ = ["TwilioPageMeta", "check_same_origin", "origin", "twilio_pages"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """The (scheme, host, port) of an absolute URL, lower-cased, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: no origin can match it
        port = -1
    if port is None:
        port = _DEFAULT_PORTS.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def check_same_origin(base_url: str, url: str, upstream: str) -> None:
    """Refuse a link (e.g. ``meta.next_page_url``) that leaves the upstream's origin.

    Clients send credentials with every page request, so a page link must never point to another scheme,
    host or port than the configured base URL. A relative link stays on the origin and is accepted.
    Raises :class:`MalformedResponseError` (the upstream answered something it should not have).
    """
    target = urlsplit(url)
    if not target.scheme and not target.netloc:
        return
    if origin(url) != origin(base_url):
        scheme, host, port = origin(url)
        raise MalformedResponseError(
            upstream=upstream,
            message=f"a pagination link points to another origin ({scheme}://{host}:{port})",
            code="malformed",
        )


class TwilioPageMeta(BaseModel):
    """The ``meta`` of a Twilio list page: which key holds the items, and the next page's link."""

    model_config = ConfigDict(extra="ignore")

    key: str | None = None
    next_page_url: str | None = None


async def twilio_pages(
    http: UpstreamHTTP,
    auth: httpx.Auth,
    first: str,
    *,
    route: str,
    default_key: str,
    model: type[ModelT],
    what: str,
) -> AsyncIterator[ModelT]:
    """The items of a Twilio list as `model`, following ``meta.next_page_url`` verbatim on the configured
    origin.

    Each page is ``{"meta": {"key": K, "next_page_url": ...}, K: [...]}``. A page that is not of that shape,
    or holds an item that is not a valid `model`, raises :class:`MalformedResponseError`: an item skipped
    silently would be an object the caller believes does not exist (and might create again).
    """
    upstream = http.name
    next_url: str | None = first
    page_number = 0
    while next_url:
        page_number += 1
        response = await http.request("GET", next_url, route=route, auth=auth, idempotent=True)
        page = parse_json(upstream, response)
        if not isinstance(page, dict):
            raise _malformed(upstream, f"{what} list: page {page_number} is not a JSON object")
        meta = validate_model(
            upstream, page.get("meta"), TwilioPageMeta, f"{what} list: page {page_number} meta"
        )
        items = page.get(meta.key or default_key)
        if not isinstance(items, list):
            raise _malformed(upstream, f"{what} list: page {page_number} has no list of {default_key}")
        for index, item in enumerate(items):
            yield validate_model(upstream, item, model, f"{what} list: page {page_number}, item {index}")
        if meta.next_page_url:
            check_same_origin(http.base_url, meta.next_page_url, upstream)
        next_url = meta.next_page_url


def _malformed(upstream: str, message: str) -> MalformedResponseError:
    return MalformedResponseError(upstream=upstream, message=message, code="malformed")
