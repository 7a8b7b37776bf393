"""Every kind the operator serves, with what the CRD generator and the handlers need to know."""

from __future__ import annotations

from modelops_operator.api import assistanttool, modelbuild, modelrun
from modelops_operator.api.crd import AGE_COLUMN, PHASE_COLUMN, READY_COLUMN, KindDefinition, PrinterColumn

MODELBUILD = KindDefinition(
    kind=modelbuild.KIND,
    plural=modelbuild.PLURAL,
    singular=modelbuild.SINGULAR,
    short_names=modelbuild.SHORT_NAMES,
    spec_model=modelbuild.ModelBuildSpec,
    status_model=modelbuild.ModelBuildStatus,
    description="A remote model build (Twilio Autopilot, or a DataRobot GenAI custom model version), "
    "reconciled by modelops-operator.",
    printer_columns=[
        READY_COLUMN,
        PHASE_COLUMN,
        PrinterColumn("Remote-ID", "string", ".status.externalId", "The upstream's id of the build"),
        PrinterColumn("Remote-Status", "string", ".status.remoteStatus", "The upstream's status", priority=1),
        PrinterColumn("Message", "string", ".status.message", "Last message", priority=1),
        AGE_COLUMN,
    ],
    spec_validations=modelbuild.SPEC_VALIDATIONS,
)

MODELRUN = KindDefinition(
    kind=modelrun.KIND,
    plural=modelrun.PLURAL,
    singular=modelrun.SINGULAR,
    short_names=modelrun.SHORT_NAMES,
    spec_model=modelrun.ModelRunSpec,
    status_model=modelrun.ModelRunStatus,
    description="One run of models on the Models API (one-shot, like a Job), reconciled by modelops-operator.",
    printer_columns=[
        READY_COLUMN,
        PHASE_COLUMN,
        PrinterColumn("Run-ID", "string", ".status.runId", "The upstream's run id"),
        PrinterColumn("Steps", "string", ".status.stepsSummary", "Steps by status"),
        PrinterColumn("Tests", "string", ".status.testsSummary", "Test results"),
        PrinterColumn("Remote-Status", "string", ".status.remoteStatus", "The upstream's status", priority=1),
        PrinterColumn("Message", "string", ".status.message", "Last message", priority=1),
        AGE_COLUMN,
    ],
    spec_validations=modelrun.SPEC_VALIDATIONS,
)

ASSISTANTTOOL = KindDefinition(
    kind=assistanttool.KIND,
    plural=assistanttool.PLURAL,
    singular=assistanttool.SINGULAR,
    short_names=assistanttool.SHORT_NAMES,
    spec_model=assistanttool.AssistantToolSpec,
    status_model=assistanttool.AssistantToolStatus,
    description="A Twilio Assistants tool kept in sync with this spec by modelops-operator.",
    printer_columns=[
        READY_COLUMN,
        PHASE_COLUMN,
        PrinterColumn("Tool-ID", "string", ".status.id", "The upstream's tool id"),
        PrinterColumn("Enabled", "boolean", ".spec.enabled", "Whether the tool is enabled"),
        PrinterColumn("Message", "string", ".status.message", "Last message", priority=1),
        AGE_COLUMN,
    ],
)

ALL_KINDS = [MODELBUILD, MODELRUN, ASSISTANTTOOL]
