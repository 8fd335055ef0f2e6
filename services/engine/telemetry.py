"""Structured logs and the engine's own counters.

Logs: one JSON object a line (`LOG_FORMAT=json`, the default of the scaled-out processes; `text` for a
developer's terminal) with time, level, logger, message, the request id (`services.store.correlation`)
and, inside a Prefect flow run, its id: so a request, the outbox rows it wrote and the flow run that
delivered them share one id in the logs.

Counters live in the process that counts; several processes behind one port (uvicorn `--workers N`)
share them through `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess mode, set up by
`services.cli serve`), which must be set before prometheus-client is imported.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from prometheus_client import Counter

from services.store import correlation

COMMANDS = Counter("carbon_commands_total", "Commands that ran through the command path (committed or not)",
                   ["procedure", "trigger", "outcome"])


@lru_cache(maxsize=4096)
def _command_child(procedure: str, trigger: str, outcome: str) -> Any:
    return COMMANDS.labels(procedure, trigger, outcome)


def count_command(procedure: str, trigger: str, outcome: str) -> None:
    """One more command of this procedure, trigger and outcome; the labelled counter is looked up once
    (prometheus-client checks and locks on every `labels()`, a noticeable share of a short command)."""
    _command_child(procedure, trigger, outcome).inc()


def flow_run_id() -> str | None:
    """The id of the Prefect flow run this code runs in, if any (without importing Prefect otherwise)."""
    context = sys.modules.get("prefect.context")
    if context is None:
        return None
    try:
        run = context.FlowRunContext.get()
    except Exception:
        return None
    return str(run.flow_run.id) if run is not None and run.flow_run is not None else None


_make_record = logging.getLogRecordFactory()


def _record(*args: object, **kwargs: object) -> logging.LogRecord:
    """Every log record carries the request id of the code that logged it, taken when it is made."""
    record = _make_record(*args, **kwargs)
    record.request_id = correlation.current()
    return record


if not getattr(_make_record, "_carbon", False):
    # the ignore below: a marker attribute on a function, so the hook is installed once
    _record._carbon = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(_record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                "pid": record.process}
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        run = flow_run_id()
        if run:
            line["flow_run_id"] = run
        for key in ("route", "method", "status", "duration_ms", "outbox_id", "incident"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr (LOG_FORMAT=text: the plain format; by default plain when stderr is a
    terminal, where a person reads it, and JSON otherwise, where a collector does); idempotent."""
    root = logging.getLogger()
    if any(getattr(h, "_carbon", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    # the ignore below: a marker attribute on the handler, so configure_logging stays idempotent
    handler._carbon = True  # type: ignore[attr-defined]
    if os.environ.get("LOG_FORMAT", "text" if sys.stderr.isatty() else "json") == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers = [h for h in root.handlers if type(h) is not logging.StreamHandler] + [handler]
    root.setLevel(level)
