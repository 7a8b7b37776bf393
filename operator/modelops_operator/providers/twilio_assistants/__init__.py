"""Twilio AI Assistants v1 Tools: the HTTP client."""

from modelops_operator.providers.twilio_assistants.client import (
    UPSTREAM,
    Policy,
    PolicyWrite,
    Tool,
    ToolMeta,
    ToolWrite,
    TwilioAssistantsClient,
)

__all__ = ["UPSTREAM", "Policy", "PolicyWrite", "Tool", "ToolMeta", "ToolWrite", "TwilioAssistantsClient"]
