"""Log lines that carry the job key and process instance key, and never personal data.

Handlers log ids only; names, phone numbers, e-mail and addresses never enter a log call.
"""

from __future__ import annotations

import contextvars
import logging

from pyzeebe import Job

from services import audit
from services.personal_data import mask

_job_key: contextvars.ContextVar[str] = contextvars.ContextVar("job_key", default="-")
_instance_key: contextvars.ContextVar[str] = contextvars.ContextVar("process_instance_key", default="-")


class _JobContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.job_key = getattr(record, "job_key", _job_key.get())
        record.process_instance_key = getattr(record, "process_instance_key", _instance_key.get())
        return True


class _JobContext:
    """pyzeebe before/after decorators that put the job's keys on every log line of its handler."""

    async def enter(self, job: Job) -> Job:
        _job_key.set(str(job.key))
        _instance_key.set(str(job.process_instance_key))
        audit.set_actor(f"worker:{job.type}")  # who reads and changes records in the audit trail
        logging.getLogger("workers.jobs").info("job %s (%s) activated", job.key, job.type)
        return job

    async def leave(self, job: Job) -> Job:
        logging.getLogger("workers.jobs").info("job %s (%s) handled: %s", job.key, job.type, job.status.name)
        return job


job_context = _JobContext()


class MaskingFormatter(logging.Formatter):
    """The last line of defence: an e-mail address or phone number that reached a log call
    (a library's message, an exception text) is masked in the line as written."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_JobContextFilter())
    handler.setFormatter(
        MaskingFormatter(
            "%(asctime)s %(levelname)s %(name)s "
            "[job=%(job_key)s instance=%(process_instance_key)s] %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
