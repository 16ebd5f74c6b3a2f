"""Shared input types for the API's schemas."""

from typing import Annotated

import email_validator
from pydantic import AfterValidator

# Municipal mail often lives on intranet domains such as belediye.local, which
# email-validator rejects as special-use by default; its documentation allows editing this list.
if "local" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("local")


def validate_email_address(value: str) -> str:
    """The normalised address; raises email_validator.EmailNotValidError."""
    return email_validator.validate_email(value, check_deliverability=False).normalized


def _email(value: str) -> str:
    try:
        return validate_email_address(value)
    except email_validator.EmailNotValidError as error:
        raise ValueError(f"not a valid e-mail address: {error}") from None


Email = Annotated[str, AfterValidator(_email)]
