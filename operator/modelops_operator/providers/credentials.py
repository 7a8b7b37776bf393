"""Credentials read from a Kubernetes Secret, kept as SecretStr so they never print."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from pydantic import BaseModel, SecretStr


class MissingCredentialKeys(ValueError):
    """The Secret exists but lacks keys; the message names the keys, never values."""


class TwilioCredentials(BaseModel):
    account_sid: str
    username: str
    password: SecretStr

    @classmethod
    def from_secret(cls, data: Mapping[str, str]) -> TwilioCredentials:
        account_sid = data.get("accountSid", "").strip()
        if data.get("apiKeySid") and data.get("apiKeySecret"):
            if not account_sid:
                raise MissingCredentialKeys("API key credentials also need the key 'accountSid'")
            return cls(
                account_sid=account_sid,
                username=data["apiKeySid"].strip(),
                password=SecretStr(data["apiKeySecret"].strip()),
            )
        if account_sid and data.get("authToken"):
            return cls(
                account_sid=account_sid, username=account_sid, password=SecretStr(data["authToken"].strip())
            )
        raise MissingCredentialKeys(
            "expected keys 'accountSid' and 'authToken', or 'apiKeySid', 'apiKeySecret' and 'accountSid'"
        )

    def auth(self) -> httpx.Auth:
        return httpx.BasicAuth(self.username, self.password.get_secret_value())
