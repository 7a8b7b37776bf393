"""What the Twilio fakes share: accounts and API keys, HTTP Basic auth, and Twilio's error vocabulary.

Twilio APIs authenticate with ``AccountSid:AuthToken`` or ``ApiKeySid:ApiKeySecret`` and answer errors as
``{code, message, more_info, status}``.
"""

from __future__ import annotations

import base64
import dataclasses
import hmac
import re
import secrets
from http import HTTPStatus
from typing import Any

from aiohttp import web

from .base import FakeUpstream

__all__ = [
    "CODE_AUTHENTICATE",
    "CODE_INVALID_PARAMETER",
    "CODE_NOT_FOUND",
    "TwilioFake",
    "make_sid",
    "reason_phrase",
    "twilio_error",
]

ACCOUNT_SID_RE = re.compile(r"^AC[0-9a-fA-F]{32}$")
API_KEY_SID_RE = re.compile(r"^SK[0-9a-fA-F]{32}$")

# Twilio error codes used by this fake.
CODE_INVALID_PARAMETER = 20001
CODE_AUTHENTICATE = 20003
CODE_METHOD_NOT_ALLOWED = 20004
CODE_NOT_FOUND = 20404
CODE_TOO_MANY_REQUESTS = 20429
CODE_INTERNAL = 20500
CODE_UNAVAILABLE = 20503
_DEFAULT_CODES = {
    400: CODE_INVALID_PARAMETER,
    401: CODE_AUTHENTICATE,
    404: CODE_NOT_FOUND,
    405: CODE_METHOD_NOT_ALLOWED,
    429: CODE_TOO_MANY_REQUESTS,
    500: CODE_INTERNAL,
    503: CODE_UNAVAILABLE,
}
_DEFAULT_MESSAGES = {
    404: "The requested resource was not found",
    401: "Authenticate",
    405: "Method not allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def make_sid(prefix: str) -> str:
    """A random Twilio SID: two-letter prefix and 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@dataclasses.dataclass
class _Account:
    sid: str
    auth_token: str


class TwilioFake(FakeUpstream):
    """A fake Twilio API: subclasses add routes; accounts, auth and errors are here."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._accounts: dict[str, _Account] = {}
        self._api_keys: dict[str, tuple[str, str]] = {}  # key sid -> (account sid, secret)

    def add_account(self, account_sid: str, auth_token: str) -> None:
        if not ACCOUNT_SID_RE.match(account_sid):
            raise ValueError(f"not an account SID: {account_sid!r}")
        self._accounts[account_sid] = _Account(account_sid, auth_token)

    def add_api_key(self, account_sid: str, api_key_sid: str, api_key_secret: str) -> None:
        if account_sid not in self._accounts:
            raise ValueError(f"unknown account {account_sid!r}: add_account() first")
        if not API_KEY_SID_RE.match(api_key_sid):
            raise ValueError(f"not an API key SID: {api_key_sid!r}")
        self._api_keys[api_key_sid] = (account_sid, api_key_secret)

    def new_account(self) -> tuple[str, str]:
        """Create an account with random credentials and return ``(account_sid, auth_token)``."""
        sid, token = make_sid("AC"), secrets.token_hex(16)
        self.add_account(sid, token)
        return sid, token

    def auth_token(self, account_sid: str) -> str | None:
        account = self._accounts.get(account_sid)
        return None if account is None else account.auth_token

    # -- errors and auth ----------------------------------------------------------------------------------

    def error_body(
        self, status: int, message: str | None = None, *, code: int | None = None
    ) -> bytes | str | dict[str, Any]:
        if code is None:
            code = _DEFAULT_CODES.get(status, CODE_INTERNAL if status >= 500 else CODE_INVALID_PARAMETER)
        if message is None:
            message = _DEFAULT_MESSAGES.get(status) or reason_phrase(status)
        return twilio_error(status, code, message)

    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        account_sid = self._check_basic(request.headers.get("Authorization", ""))
        if account_sid is None:
            return self.error_response(
                401,
                "Authenticate",
                code=CODE_AUTHENTICATE,
                headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
            )
        return None

    def _check_basic(self, header: str) -> str | None:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return None
        try:
            username, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        account_sid: str | None = None
        secret: str | None = None
        if username in self._accounts:
            account_sid, secret = username, self._accounts[username].auth_token
        elif username in self._api_keys:
            account_sid, secret = self._api_keys[username]
        if (
            account_sid is None
            or secret is None
            or not hmac.compare_digest(password.encode(), secret.encode())
        ):
            return None
        ctx = self.context()
        ctx.principal = username
        ctx.attrs["account_sid"] = account_sid
        return account_sid

    def _not_found(self, path: str) -> web.Response:
        return self.error_response(404, f"The requested resource {path} was not found", code=CODE_NOT_FOUND)

    def _bad_request(self, message: str) -> web.Response:
        return self.error_response(400, message, code=CODE_INVALID_PARAMETER)
