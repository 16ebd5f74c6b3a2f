"""Log lines that carry the external task id and process instance id, and never personal data.

Handlers log ids only; names, phone numbers, e-mail and addresses never enter a log call.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

from services import audit
from services.personal_data import mask

_task_id: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default="-")
_instance_id: contextvars.ContextVar[str] = contextvars.ContextVar("process_instance_id", default="-")


class _TaskContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.task_id = getattr(record, "task_id", _task_id.get())
        record.process_instance_id = getattr(record, "process_instance_id", _instance_id.get())
        return True


@contextlib.contextmanager
def task_context(task_id: str, process_instance_id: str, topic: str) -> Iterator[None]:
    """Put an external task's ids on every log line of its handler, and its topic in the audit trail."""
    task_token = _task_id.set(task_id)
    instance_token = _instance_id.set(process_instance_id)
    audit.set_actor(f"worker:{topic}")  # who reads and changes records in the audit trail
    try:
        yield
    finally:
        _task_id.reset(task_token)
        _instance_id.reset(instance_token)


class MaskingFormatter(logging.Formatter):
    """The last line of defence: an e-mail address or phone number that reached a log call
    (a library's message, an exception text) is masked in the line as written."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_TaskContextFilter())
    handler.setFormatter(
        MaskingFormatter(
            "%(asctime)s %(levelname)s %(name)s "
            "[task=%(task_id)s instance=%(process_instance_id)s] %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # One line per HTTP call to the engine (every long poll) would drown the handlers' lines.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
