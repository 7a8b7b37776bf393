"""DataRobot GenAI: the HTTP client for custom model versions built from LLM blueprints (UPSTREAMS.md §4)."""

from modelops_operator.providers.datarobot.client import (
    FAILED_STATUSES,
    IN_PROGRESS_STATUSES,
    RETRY_STATUSES,
    UPSTREAM,
    DataRobotClient,
    DataRobotCredentials,
    DataRobotTokenAuth,
    JobState,
    JobStatus,
    StartedBuild,
)

__all__ = [
    "FAILED_STATUSES",
    "IN_PROGRESS_STATUSES",
    "RETRY_STATUSES",
    "UPSTREAM",
    "DataRobotClient",
    "DataRobotCredentials",
    "DataRobotTokenAuth",
    "JobState",
    "JobStatus",
    "StartedBuild",
]
