"""Twilio's request signature (`X-Twilio-Signature`), as Twilio documents it for webhooks and callbacks.

base64(HMAC-SHA1(auth token, the full URL Twilio called + every POST parameter, sorted by name, as name+value)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    payload = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def valid(auth_token: str, url: str, params: Mapping[str, str], given: str | None) -> bool:
    """Whether `given` is the signature of this request; compared in constant time."""
    return bool(given) and hmac.compare_digest(signature(auth_token, url, params), given or "")
