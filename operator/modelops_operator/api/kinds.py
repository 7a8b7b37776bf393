"""Every kind the operator serves, with what the CRD generator and the handlers need to know."""

from __future__ import annotations

from modelops_operator.api import modelbuild
from modelops_operator.api.crd import AGE_COLUMN, PHASE_COLUMN, READY_COLUMN, KindDefinition, PrinterColumn

MODELBUILD = KindDefinition(
    kind=modelbuild.KIND,
    plural=modelbuild.PLURAL,
    singular=modelbuild.SINGULAR,
    short_names=modelbuild.SHORT_NAMES,
    spec_model=modelbuild.ModelBuildSpec,
    status_model=modelbuild.ModelBuildStatus,
    description="A remote model build (Twilio Autopilot), reconciled by modelops-operator.",
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

ALL_KINDS = [MODELBUILD]
