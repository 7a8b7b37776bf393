"""Fake upstream APIs: faithful stand-ins for the vendors' services, used by the sandbox and the tests."""

from .base import (
    Clock,
    FakeUpstream,
    FaultHandle,
    FaultKind,
    FaultRule,
    FaultSet,
    Gate,
    ManualClock,
    RecordedRequest,
    RequestContext,
    RequestHook,
)
from .twilio_autopilot import BuildScript, CallbackDelivery, TwilioAutopilotFake

__all__ = [
    "BuildScript",
    "CallbackDelivery",
    "Clock",
    "FakeUpstream",
    "FaultHandle",
    "FaultKind",
    "FaultRule",
    "FaultSet",
    "Gate",
    "ManualClock",
    "RecordedRequest",
    "RequestContext",
    "RequestHook",
    "TwilioAutopilotFake",
]
