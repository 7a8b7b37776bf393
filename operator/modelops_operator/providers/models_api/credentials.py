"""Models API credentials from a Kubernetes Secret: ``apiKey`` (sent as ``X-API-Key``) or ``bearerToken``."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, SecretStr

from modelops_operator.providers.credentials import MissingCredentialKeys

API_KEY = "apiKey"
BEARER_TOKEN = "bearerToken"


class ModelsApiCredentials(BaseModel):
    """Exactly one of the two is set; the values are SecretStr so they never print."""

    model_config = ConfigDict(frozen=True)

    api_key: SecretStr | None = None
    bearer_token: SecretStr | None = None

    @classmethod
    def from_secret(cls, data: Mapping[str, str]) -> ModelsApiCredentials:
        """Read the Secret's data; ``apiKey`` wins when both keys are set. Blank values count as missing."""
        api_key = (data.get(API_KEY) or "").strip()
        if api_key:
            return cls(api_key=SecretStr(api_key))
        token = (data.get(BEARER_TOKEN) or "").strip()
        if token:
            return cls(bearer_token=SecretStr(token))
        raise MissingCredentialKeys(
            f"expected the key '{API_KEY}' (sent as X-API-Key) or the key '{BEARER_TOKEN}' "
            "(sent as a Bearer token)"
        )

    def headers(self) -> dict[str, str]:
        """The request headers that authenticate with these credentials."""
        if self.api_key is not None:
            return {"X-API-Key": self.api_key.get_secret_value()}
        if self.bearer_token is not None:
            return {"Authorization": f"Bearer {self.bearer_token.get_secret_value()}"}
        raise MissingCredentialKeys(f"no credentials: neither '{API_KEY}' nor '{BEARER_TOKEN}' is set")
