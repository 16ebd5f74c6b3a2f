"""What a person reads on an incident in Cockpit: what went wrong in plain words when we know it,
then the technical error, without personal data (KVKK).

`workers.runtime` decides what a failed task becomes (a BPMN error for a modelled outcome, a
retry after the back-off, an incident in Cockpit once the retries run out); this module only
words it.
"""

from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from services.personal_data import mask
from services.sms import SmsCentreLoginRefused, SmsCentreUnavailable, SmsRefused

# A person's input the form should have refused: the diagram's error boundary sends the task
# back to them with `inputError`, the text their form shows.
INVALID_INPUT = "GECERSIZ_GIRDI"

# What a person reads first on the incident in Cockpit when the mail server is the cause.
MAIL_SERVER_UNREACHABLE = (
    "The mail server (SMTP) could not be reached, so the mail was not sent. "
    "Once the mail server runs again, retry this incident in Cockpit: the step sends the mail then."
)
MAIL_SERVER_LOGIN_REFUSED = (
    "The mail server (SMTP) refused our login (check SMTP_USERNAME and SMTP_PASSWORD), "
    "so the mail was not sent. Retry this incident in Cockpit once that is fixed."
)
MAIL_SERVER_REFUSED = "The mail server (SMTP) did not accept the mail, so it was not sent."
SMS_CENTRE_UNREACHABLE = (
    "The SMS centre (SMPP) could not be reached or did not answer, so the SMS was not sent. "
    "Once it answers again, retry this incident in Cockpit: the step sends the SMS then."
)
SMS_CENTRE_LOGIN_REFUSED = (
    "The SMS centre (SMPP) refused our login (check SMPP_SYSTEM_ID and SMPP_PASSWORD), "
    "so the SMS was not sent. Retry this incident in Cockpit once that is fixed."
)
SMS_REFUSED = "The SMS centre (SMPP) did not accept the SMS, so it was not sent."

# An incident's message stays short (Cockpit lists it); the whole traceback goes to its details.
MESSAGE_LIMIT = 500


def failure_message(error: Exception) -> str:
    """What Cockpit shows on the incident: what went wrong in plain words when we know it, then
    the technical error; without e-mail addresses or phones (KVKK)."""
    detail = f"{type(error).__name__}: {error}"
    explanation = _explanation(error)
    return mask(f"{explanation} Details: {detail}" if explanation else detail)[:MESSAGE_LIMIT]


def _explanation(error: Exception) -> str | None:
    if isinstance(error, SMTPAuthenticationError):
        return MAIL_SERVER_LOGIN_REFUSED
    if isinstance(error, SMTPConnectError | SMTPServerDisconnected | SMTPTimeoutError):
        return MAIL_SERVER_UNREACHABLE
    if isinstance(error, SMTPException):
        return MAIL_SERVER_REFUSED
    if isinstance(error, SmsCentreLoginRefused):
        return SMS_CENTRE_LOGIN_REFUSED
    if isinstance(error, SmsCentreUnavailable):
        return SMS_CENTRE_UNREACHABLE
    if isinstance(error, SmsRefused):
        return SMS_REFUSED
    return None
