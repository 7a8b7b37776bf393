"""modelops-sandbox: the emulated Kubernetes API, the four fake upstreams, and the full sandbox.

A distribution of its own (``pip install modelops-sandbox``), so that a team can serve the fakes in its own
pipeline's tests without the operator's image carrying any of it. The public Python API:

- :class:`EmulatedCluster`: a Kubernetes API emulator on a real port (CRDs, status subresource, watches,
  patches, selectors, tables), enough for kopf, kubectl, helm and the kubernetes client.
- :class:`TwilioAutopilotFake`, :class:`TwilioAssistantsFake`, :class:`ModelsApiFake`, :class:`DataRobotFake`:
  the upstreams, each an aiohttp server with accounts, recorded requests and fault injection
  (``fake.faults``), following the contracts the operator relies on.
- :func:`build_fakes` and :func:`local_stack`: the four fakes with the sandbox credentials, and the whole
  stack (emulated cluster with the CRDs, fakes, and the real operator on demand).

The command line is ``modelops-sandbox run | fakes | cluster`` (see :mod:`modelops_sandbox.cli`).
Imports go one way: the sandbox uses the operator's API models and runtime; the operator never imports this.
"""

from modelops_sandbox.cluster import EmulatedCluster
from modelops_sandbox.fakes import TwilioAutopilotFake
from modelops_sandbox.fakes.datarobot import DataRobotFake
from modelops_sandbox.fakes.models_api import ModelsApiFake
from modelops_sandbox.fakes.twilio_assistants import TwilioAssistantsFake
from modelops_sandbox.fakes_server import build_fakes
from modelops_sandbox.stack import (
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AUTH_TOKEN,
    SANDBOX_DATAROBOT_TOKEN,
    SANDBOX_MODELS_API_KEY,
    Stack,
    local_stack,
)

__all__ = [
    "SANDBOX_ACCOUNT_SID",
    "SANDBOX_AUTH_TOKEN",
    "SANDBOX_DATAROBOT_TOKEN",
    "SANDBOX_MODELS_API_KEY",
    "DataRobotFake",
    "EmulatedCluster",
    "ModelsApiFake",
    "Stack",
    "TwilioAssistantsFake",
    "TwilioAutopilotFake",
    "build_fakes",
    "local_stack",
]
