"""Twilio's list pagination, shared by the Twilio fakes.

``PageSize`` (1..1000, default 50), ``Page`` (0-based) and ``PageToken`` (``PA<id>``: the page after that item,
``PB<id>``: the page before it); the ``meta`` block carries absolute ``url``, ``first_page_url``,
``previous_page_url`` and ``next_page_url`` (null at the ends) and the ``key`` of the item list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 1000

T = TypeVar("T")


class PagingError(ValueError):
    """The paging parameters are invalid; the message is the 400 answer's."""


def twilio_page(
    query: Mapping[str, str],
    items: Sequence[T],
    *,
    seq: Callable[[T], int],
    ident: Callable[[T], str],
    seq_of: Callable[[str], int | None],
    list_url: str,
    key: str,
    extra: Mapping[str, str] | None = None,
) -> tuple[list[T], dict[str, Any]]:
    """Pick one page of ``items`` (ordered by ``seq``) and render its ``meta`` block.

    ``ident`` is an item's id as it appears in page tokens; ``seq_of`` finds the ordering key of an id (also of
    items deleted since the token was issued, so that tokens stay valid). ``extra`` filters are repeated in
    every page URL.
    """
    try:
        page_size = int(query.get("PageSize", PAGE_SIZE_DEFAULT))
        page = int(query.get("Page", 0))
    except ValueError:
        raise PagingError("PageSize and Page must be integers") from None
    if not 1 <= page_size <= PAGE_SIZE_MAX:
        raise PagingError(f"PageSize must be between 1 and {PAGE_SIZE_MAX}")
    if page < 0:
        raise PagingError("Page must be >= 0")
    token = query.get("PageToken") or None
    if token is not None:
        anchor = seq_of(token[2:]) if token[:2] in ("PA", "PB") else None
        if anchor is None:
            raise PagingError(f"Invalid PageToken: {token}")
        if token.startswith("PA"):
            chosen = [item for item in items if seq(item) > anchor][:page_size]
        else:
            chosen = [item for item in items if seq(item) < anchor][-page_size:]
    else:
        chosen = list(items[page * page_size : (page + 1) * page_size])

    prefix = "".join(f"{name}={quote(value, safe='')}&" for name, value in (extra or {}).items())

    def page_url(number: int, page_token: str | None) -> str:
        url = f"{list_url}?{prefix}PageSize={page_size}&Page={number}"
        return url + (f"&PageToken={quote(page_token, safe='')}" if page_token else "")

    next_url: str | None = None
    previous_url: str | None = None
    if chosen and any(seq(item) > seq(chosen[-1]) for item in items):
        next_url = page_url(page + 1, "PA" + ident(chosen[-1]))
    if page > 0:
        if chosen and any(seq(item) < seq(chosen[0]) for item in items):
            previous_url = page_url(page - 1, "PB" + ident(chosen[0]))
        elif not chosen:
            previous_url = page_url(page - 1, None)
    meta = {
        "page": page,
        "page_size": page_size,
        "first_page_url": page_url(0, None),
        "previous_page_url": previous_url,
        "url": page_url(page, token),
        "next_page_url": next_url,
        "key": key,
    }
    return chosen, meta
