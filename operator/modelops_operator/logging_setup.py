"""Process logging: text or JSON lines. Credentials are never passed to loggers in the first place."""

from __future__ import annotations

import json
import logging
import re
import sys

# kopf reports every run of a handler at INFO. The operator's watch-event handlers run on every event of
# every resource and only queue work (what follows is logged by the lifecycle), so these lines say nothing and
# cost a formatted line per event: 50,000 of them for 10,000 resources created.
_EVENT_HANDLER_DONE = re.compile(r"Handler '[\w.-]+-event' succeeded\.")


def _not_event_handler_success(record: logging.LogRecord) -> bool:
    return not (record.levelno == logging.INFO and _EVENT_HANDLER_DONE.fullmatch(record.getMessage()))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(_not_event_handler_success)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO; keep it for DEBUG only.
    logging.getLogger("httpx").setLevel(logging.WARNING if level != "DEBUG" else logging.DEBUG)
