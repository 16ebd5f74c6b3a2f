"""How a failed job is handed back: BPMN errors for modelled outcomes, retries with back-off
for everything else (an incident a person can see in Operate once retries run out)."""

import logging

from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)
from pyzeebe import Job, JobController
from pyzeebe.errors import BusinessError

from services.personal_data import mask
from services.quality_records import InvalidInput

log = logging.getLogger(__name__)

RETRY_BACK_OFF_MS = 10_000
# A person's input the form should have refused: the diagram's error boundary sends the task
# back to them with `inputError`, the text their form shows.
INVALID_INPUT = "GECERSIZ_GIRDI"


async def handle_failure(error: Exception, job: Job, controller: JobController) -> None:
    if isinstance(error, InvalidInput):
        log.info(
            "job %s: input refused, back to the person",
            job.key,
            extra={"job_key": job.key, "process_instance_key": job.process_instance_key},
        )
        await controller.set_error_status(
            str(error), error_code=INVALID_INPUT, variables={"inputError": str(error)}
        )
        return
    if isinstance(error, BusinessError):
        log.info(
            "job %s raised BPMN error %s",
            job.key,
            error.error_code,
            extra={"job_key": job.key, "process_instance_key": job.process_instance_key},
        )
        await controller.set_error_status(str(error), error_code=error.error_code)
        return
    log.warning(
        "job %s failed (%s retries left): %s",
        job.key,
        job.retries - 1,
        type(error).__name__,
        extra={"job_key": job.key, "process_instance_key": job.process_instance_key},
    )
    await controller.set_failure_status(failure_message(error), retry_back_off_ms=RETRY_BACK_OFF_MS)


# What a person reads first on the incident in Operate when the mail server is the cause.
MAIL_SERVER_UNREACHABLE = (
    "The mail server (SMTP) could not be reached, so the mail was not sent. "
    "Once the mail server runs again, retry this incident in Operate: the step sends the mail then."
)
MAIL_SERVER_LOGIN_REFUSED = (
    "The mail server (SMTP) refused our login (check SMTP_USERNAME and SMTP_PASSWORD), "
    "so the mail was not sent. Retry this incident in Operate once that is fixed."
)
MAIL_SERVER_REFUSED = "The mail server (SMTP) did not accept the mail, so it was not sent."


def failure_message(error: Exception) -> str:
    """What Operate shows on the incident: what went wrong in plain words when we know it, then
    the technical error; without e-mail addresses or phones (KVKK)."""
    detail = f"{type(error).__name__}: {error}"
    explanation = _explanation(error)
    return mask(f"{explanation} Details: {detail}" if explanation else detail)[:500]


def _explanation(error: Exception) -> str | None:
    if isinstance(error, SMTPAuthenticationError):
        return MAIL_SERVER_LOGIN_REFUSED
    if isinstance(error, SMTPConnectError | SMTPServerDisconnected | SMTPTimeoutError):
        return MAIL_SERVER_UNREACHABLE
    if isinstance(error, SMTPException):
        return MAIL_SERVER_REFUSED
    return None
