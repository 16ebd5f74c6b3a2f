"""KVKK retention: the personal data of requests closed longer ago than the retention period are
anonymised; the request, its history and every nonconformity, finding and DİF record stay, without
them, for their own 20 years (the `kisisel-veri-anonimlestirme` diagram runs this every night).

What counts as personal data, and what becomes of it:

- the contact (`citizen_contacts`): the name becomes ANONYMISED; phone, e-mail and address become
  NULL, so their ciphertext is gone;
- the citizen's own words in answer to an information request (`citizen_replies.text`): ANONYMISED;
- the photos attached at intake (`request_photos`), which may show faces, plates or a home: deleted;
- the mails and SMS sent to the citizen (`notifications` keyed by the request or its nonconformity
  and addressed to the citizen's e-mail or phone): the recipient becomes ANONYMISED; mails to
  staff, directorates and institutions keep their addresses;
- the channel's own reference (a CİMER number, a mail's id, a social-media post), which leads back
  to the person in the channel's system: `anonim-<request id>`;
- free text about the request, written by the citizen or by staff (the description, the history's
  details, and the nonconformity form, finding, DİF plan, actions and decisions on it): the words
  stay, but the citizen's name, e-mail, phone and address, and any other e-mail address or mobile
  number in them, are replaced by a placeholder; a citizen who reported a nonconformity themselves
  (source `vatandas`) is no longer named as its finder.

What stays: the tracking number (random), type, category, directorate, dates, the coordinates of
the place, status and answer, every history entry (with one more saying that the data were
anonymised), and every quality record with its staff names. Archived DİF reports (PDF with a
SHA-256) are evidence and are not rewritten.

Every change goes through ORM objects, so flush-time listeners (an audit trail) see them. The job
is idempotent (an anonymised request no longer matches), commits per batch and skips requests
another transaction holds (they are taken on the next run), so it may run beside intake, the
workers and a second copy of itself.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from services import citizen_requests as requests
from services import quality_records
from services.db import UnitOfWorkFactory
from services.models import (
    CitizenContact,
    CitizenReply,
    CitizenRequest,
    Dif,
    DifAction,
    DifApproval,
    Finding,
    Nonconformity,
    Notification,
    QualityEvent,
    RequestEvent,
    RequestPhoto,
)
from services.personal_data import mask

ANONYMISED = "Anonimleştirildi"
EVENT = "kisisel-veriler-anonimlestirildi"
CITIZEN_SOURCE = "vatandas"
# Only the ISO-8601 form (P2Y, P18M, P400D, PT12H): a bare number would be read as seconds.
ISO_PERIOD = re.compile(r"P(?=\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?")
_PERIOD = TypeAdapter(timedelta)


def parse_period(text: str) -> timedelta:
    """An ISO-8601 duration as pydantic reads it: a year counts 365 days, a month 30."""
    if not ISO_PERIOD.fullmatch(text.strip()):
        raise ValueError(f"retention period {text!r} is not an ISO-8601 duration such as P2Y")
    period = _PERIOD.validate_python(text.strip())
    if period <= timedelta(0):
        raise ValueError(f"retention period {text!r} must be longer than zero")
    return period


def anonymise_closed_requests(
    uow_factory: UnitOfWorkFactory,
    *,
    older_than: timedelta,
    now: datetime,
    batch_size: int,
    max_seconds: float | None = None,
) -> int:
    """Anonymise every request closed before `now - older_than`, `batch_size` per transaction.

    Returns how many requests were anonymised. With `max_seconds`, no new batch starts after that
    long; what is left waits for the next run.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    cutoff = now - older_than
    started = time.monotonic()
    total = 0
    while True:
        with uow_factory() as uow:
            done = _anonymise_batch(uow.session, cutoff=cutoff, batch_size=batch_size)
            uow.commit()
        total += done
        if done < batch_size:
            return total
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            return total


def due_for_anonymisation(cutoff: datetime) -> Any:
    """Closed before the cutoff, and not anonymised since it was (last) closed.

    A request reopened and closed again after being anonymised is due once more. The partial index
    `ix_citizen_requests_to_anonymise` holds exactly the requests for which the second half holds.
    """
    return and_(
        CitizenRequest.closed_at < cutoff,
        or_(CitizenRequest.anonymised_at.is_(None), CitizenRequest.anonymised_at < CitizenRequest.closed_at),
    )


def _anonymise_batch(session: Session, *, cutoff: datetime, batch_size: int) -> int:
    batch = list(
        session.scalars(
            select(CitizenRequest)
            .where(due_for_anonymisation(cutoff))
            .order_by(CitizenRequest.closed_at)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    )
    if not batch:
        return 0
    ids = [r.id for r in batch]
    contacts = {
        c.request_id: c
        for c in session.scalars(select(CitizenContact).where(_in(CitizenContact.request_id, ids)))
    }
    nonconformities = list(session.scalars(select(Nonconformity).where(_in(Nonconformity.request_id, ids))))
    scrubbers = {r.id: _Scrubber.of(contacts.get(r.id), nonconformities, r.id) for r in batch}

    for request in batch:
        scrub = scrubbers[request.id]
        _set(request, "description", scrub.text(request.description))
        _set(request, "channel_reference", f"anonim-{request.id}")
        contact = contacts.get(request.id)
        if contact is not None:
            _set(contact, "full_name", ANONYMISED)
            for name in ("phone", "email", "address"):
                _set(contact, name, None)
        request.anonymised_at = datetime.now(UTC)
        requests.add_event(
            session, request.id, EVENT, details={"closedBefore": cutoff.astimezone(UTC).isoformat()}
        )

    for reply in session.scalars(select(CitizenReply).where(_in(CitizenReply.request_id, ids))):
        _set(reply, "text", ANONYMISED)
    # A photo may show faces, plates or a home: nothing of it is kept.
    for photo in session.scalars(select(RequestPhoto).where(_in(RequestPhoto.request_id, ids))):
        session.delete(photo)
    for event in session.scalars(select(RequestEvent).where(_in(RequestEvent.request_id, ids))):
        scrub = scrubbers[event.request_id]
        _set(event, "details", scrub.json(event.details))
        _set(event, "public_text", scrub.text(event.public_text))
    _anonymise_notifications(session, scrubbers.values())
    _anonymise_quality_records(session, nonconformities, scrubbers)
    session.flush()
    return len(batch)


def _anonymise_notifications(session: Session, scrubbers: Iterable[_Scrubber]) -> None:
    """Mails and SMS to the citizen: keyed by the request or its nonconformity, sent to their address."""
    owners: dict[str, list[_Scrubber]] = {}
    for scrub in scrubbers:
        for address in scrub.addresses:
            owners.setdefault(address, []).append(scrub)
    if not owners:
        return
    for notification in session.scalars(select(Notification).where(_in(Notification.recipient, owners))):
        key = notification.idempotency_key
        if any(k in key for scrub in owners[notification.recipient] for k in scrub.keys):
            _set(notification, "recipient", ANONYMISED)


def _anonymise_quality_records(
    session: Session, nonconformities: list[Nonconformity], scrubbers: dict[uuid.UUID, _Scrubber]
) -> None:
    if not nonconformities:
        return
    by_nc: dict[uuid.UUID, _Scrubber] = {}
    for nc in nonconformities:
        assert nc.request_id is not None
        scrub = by_nc[nc.id] = scrubbers[nc.request_id]
        if nc.source == CITIZEN_SOURCE:
            _set(nc, "found_by", ANONYMISED)
        else:
            _set(nc, "found_by", scrub.text(nc.found_by))
        _set(nc, "description", scrub.text(nc.description))
        _set(nc, "justification", scrub.text(nc.justification))
        quality_records.add_event(session, EVENT, nonconformity_id=nc.id)
    findings = list(session.scalars(select(Finding).where(_in(Finding.nonconformity_id, by_nc))))
    for finding in findings:
        _set(finding, "description", by_nc[finding.nonconformity_id].text(finding.description))
    by_finding = {f.id: by_nc[f.nonconformity_id] for f in findings}
    by_dif: dict[uuid.UUID, _Scrubber] = {}
    if by_finding:
        for dif in session.scalars(select(Dif).where(_in(Dif.finding_id, by_finding))):
            scrub = by_dif[dif.id] = by_finding[dif.finding_id]
            _set(dif, "root_cause", scrub.text(dif.root_cause))
    if by_dif:
        for action in session.scalars(select(DifAction).where(_in(DifAction.dif_id, by_dif))):
            scrub = by_dif[action.dif_id]
            _set(action, "description", scrub.text(action.description))
            _set(action, "completion_note", scrub.text(action.completion_note))
        for approval in session.scalars(select(DifApproval).where(_in(DifApproval.dif_id, by_dif))):
            scrub = by_dif[approval.dif_id]
            _set(approval, "comment", scrub.text(approval.comment))
            _set(approval, "details", scrub.json(approval.details))
    history = session.scalars(
        select(QualityEvent).where(
            or_(_in(QualityEvent.nonconformity_id, by_nc), _in(QualityEvent.dif_id, by_dif))
        )
    )
    for event in history:
        owner = event.nonconformity_id if event.nonconformity_id in by_nc else event.dif_id
        assert owner is not None
        scrub = by_nc.get(owner) or by_dif[owner]
        _set(event, "actor", scrub.actor(event.actor))
        _set(event, "details", scrub.json(event.details))


# ---------------------------------------------------------------- scrubbing free text


@dataclass(frozen=True)
class _Scrubber:
    """Replaces one citizen's known personal data, and any e-mail address or mobile number, in text."""

    patterns: tuple[tuple[re.Pattern[str], str], ...]
    addresses: frozenset[str] = frozenset()
    keys: tuple[str, ...] = ()
    citizen_finders: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls, contact: CitizenContact | None, nonconformities: list[Nonconformity], request_id: uuid.UUID
    ) -> _Scrubber:
        mine = [nc for nc in nonconformities if nc.request_id == request_id]
        finders = frozenset(nc.found_by for nc in mine if nc.source == CITIZEN_SOURCE)
        known: list[tuple[str | None, str]] = [(name, "<ad soyad>") for name in finders]
        addresses: set[str] = set()
        if contact is not None and contact.full_name != ANONYMISED:
            known += [
                (contact.full_name, "<ad soyad>"),
                (contact.address, "<adres>"),
                (contact.email, "<e-posta>"),
            ]
            addresses = {a for a in (contact.email, contact.phone) if a}
        patterns = [(_words(value), placeholder) for value, placeholder in known if value and value.strip()]
        if contact is not None and contact.phone and (number := _phone(contact.phone)):
            patterns.append((number, "<telefon>"))
        # Longest first, so that a name inside an address is not replaced before the address.
        patterns.sort(key=lambda p: -len(p[0].pattern))
        return cls(
            patterns=tuple(patterns),
            addresses=frozenset(addresses),
            keys=(str(request_id), *(str(nc.id) for nc in mine)),
            citizen_finders=finders,
        )

    def text(self, value: str | None) -> str | None:
        if value is None:
            return None
        for pattern, placeholder in self.patterns:
            value = pattern.sub(placeholder, value)
        return mask(value)

    def json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        return value

    def actor(self, value: str) -> str:
        return ANONYMISED if value in self.citizen_finders else value


def _words(value: str) -> re.Pattern[str]:
    """The value as a whole word anywhere: any case, any run of spaces between its words."""
    words = r"\s+".join(re.escape(word) for word in value.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


def _phone(phone: str) -> re.Pattern[str] | None:
    """The number in any of its usual spellings: +90 532 123 45 67, 0532-123-4567, 5321234567."""
    digits = re.sub(r"\D", "", phone)[-10:]
    if len(digits) < 7:
        return None
    separated = r"[\s\-.()]*".join(digits)
    # An opening parenthesis belongs to the number only around an area code: "(0324) 234 56 78".
    area_code = r"(?:\((?=\s*(?:\+?90\s*|0\s*)?\d{3}\s*\)))?"
    return re.compile(rf"(?<![\d+]){area_code}(?:\+?90[\s\-.()]*|0[\s\-.()]*)?{separated}(?!\d)")


def _set(row: object, attribute: str, value: Any) -> None:
    """Assign only what changes, so the flush (and an audit trail) records real changes only."""
    if getattr(row, attribute) != value:
        setattr(row, attribute, value)


def _in(column: Any, values: Iterable[Any]) -> Any:
    return column.in_(list(values))
