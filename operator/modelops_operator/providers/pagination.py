"""Helpers shared by clients that follow an upstream's pagination links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from modelops_operator.providers.errors import MalformedResponseError
from modelops_operator.providers.http import UpstreamHTTP, parse_json

__all__ = ["check_same_origin", "origin", "twilio_pages"]

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


async def twilio_pages(
    http: UpstreamHTTP, auth: httpx.Auth, first: str, *, route: str, default_key: str
) -> AsyncIterator[dict[str, Any]]:
    """The raw items of a Twilio list, following ``meta.next_page_url`` verbatim on the configured origin.

    Each page is ``{"meta": {"key": K, "next_page_url": ...}, K: [...]}``; a page that is not of that shape
    raises :class:`MalformedResponseError`.
    """
    upstream = http.name
    next_url: str | None = first
    while next_url:
        response = await http.request("GET", next_url, route=route, auth=auth, idempotent=True)
        page = parse_json(upstream, response)
        if not isinstance(page, dict) or not isinstance(page.get("meta"), dict):
            raise _malformed(upstream, "list page is not an object with a meta object")
        meta = page["meta"]
        items = page.get(meta.get("key") or default_key)
        if not isinstance(items, list):
            raise _malformed(upstream, f"list page has no list of {default_key}")
        for item in items:
            if not isinstance(item, dict):
                raise _malformed(upstream, "a listed item is not an object")
            yield item
        link = meta.get("next_page_url")
        if link is not None and not isinstance(link, str):
            raise _malformed(upstream, "meta.next_page_url is not a string")
        if link:
            check_same_origin(http.base_url, link, upstream)
        next_url = link


def _malformed(upstream: str, message: str) -> MalformedResponseError:
    return MalformedResponseError(upstream=upstream, message=message, code="malformed")
