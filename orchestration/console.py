"""A compact console logger for runs started by `bidlake run`.

Dagster's default console logger prints every event with run id, job and pid — right in
the UI's log view, unreadable in a terminal. `bidlake run` selects this logger instead
(run config `loggers: {bidlake_console: {}}`): one line per message of INFO and above,
`HH:MM:SS step  message`, on stderr. The full event log still goes to the instance and
the UI either way.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime

from dagster import InitLoggerContext, logger


class _CompactFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        step = meta.get("step_key") or meta.get("job_name") or ""
        message = str(meta.get("orig_message") or record.getMessage())
        # Multi-line messages (dagster-dbt's notes, tracebacks) keep their first line here;
        # the whole text is in the run's event log.
        first, _, rest = message.strip().partition("\n")
        message = first + (" …" if rest.strip() else "")
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        return f"  {stamp} {step:<24} {message}"


@logger(config_schema={}, description="One compact line per INFO+ message, for `bidlake run`.")
def bidlake_console(_init_context: InitLoggerContext) -> logging.Logger:
    log = logging.getLogger("bidlake.run")
    log.setLevel(logging.INFO)
    log.propagate = False
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_CompactFormatter())
        log.addHandler(handler)
    return log
