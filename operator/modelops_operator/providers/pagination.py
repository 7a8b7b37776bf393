"""Helpers shared by clients that follow an upstream's pagination links."""

from __future__ import annotations

from urllib.parse import urlsplit

from modelops_operator.providers.errors import MalformedResponseError

__all__ = ["check_same_origin", "origin"]

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
