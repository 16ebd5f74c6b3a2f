"""ORM tables. Pydantic schemas live beside the routes, never here."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base
from services.personal_data import EncryptedText


class SystemCheck(Base):
    """An operator's request to prove the installation end to end (API → engine → mail → Tasklist)."""

    __tablename__ = "system_checks"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    requested_by: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    process_instance_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """A process start or a message to a waiting instance, committed with the change that needs it."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    message_name: Mapped[str] = mapped_column(String(100))
    correlation_key: Mapped[str] = mapped_column(String(200))
    variables: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Set (and committed) before each publish: another dispatcher leaves the row alone until
    # OUTBOX_LEASE has passed, so a start still in flight at the engine is never sent twice.
    attempted_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        comment="last publish attempt, committed before it (a lease against a second publisher)",
    )
    starts_process: Mapped[bool] = mapped_column(
        Boolean,
        default=True,
        server_default=true(),
        comment="true: starts an instance; false: goes to the waiting instance of the business key",
    )
    last_error: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """Every mail and SMS sent, keyed so that a redelivered task never sends twice."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_smsc_message_ids", "smsc_message_ids", postgresql_using="gin"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Our Message-ID (mail header; for an SMS the key of its attempts).
    smtp_message_id: Mapped[str | None] = mapped_column(String(300))
    smsc_message_ids: Mapped[list[str] | None] = mapped_column(
        ARRAY(String(65)), comment="SMS: the SMS centre's message id of each part"
    )
    delivery_status: Mapped[str | None] = mapped_column(
        String(10), comment="SMS: DELIVRD once every part is delivered, else a part's final SMPP state"
    )
    delivered_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="SMS: when the last part reached the phone"
    )


class SmsReceipt(Base):
    """A delivery receipt from the SMS centre, kept by its message id (it may come before the
    notification knows that id, or for a part of a message sent twice)."""

    __tablename__ = "sms_receipts"

    smsc_message_id: Mapped[str] = mapped_column(String(65), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), comment="SMPP message state: DELIVRD, UNDELIV, …")
    error: Mapped[str | None] = mapped_column(String(10), comment="the receipt's err: code")
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# ---------------------------------------------------------------- catalogue


class Directorate(Base):
    __tablename__ = "directorates"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), comment="where new requests are notified")
    director_email: Mapped[str] = mapped_column(String(320), comment="where overdue requests escalate")
    staff_group: Mapped[str] = mapped_column(String(100), comment="Tasklist candidate group of its staff")
    director_group: Mapped[str] = mapped_column(
        String(100), comment="Tasklist candidate group of its director"
    )
    head_email: Mapped[str] = mapped_column(
        String(320), comment="head of department (daire başkanı): next level for stalled approvals"
    )


class Category(Base):
    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    directorate_code: Mapped[str] = mapped_column(ForeignKey("directorates.code"))
    service_days: Mapped[int] = mapped_column(Integer, comment="service time in working days")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    default_priority: Mapped[str] = mapped_column(String(10), default="normal", server_default="normal")
    high_service_days: Mapped[int | None] = mapped_column(
        Integer, comment="service time in working days at priority yüksek (empty: half the normal one)"
    )
    urgent_service_hours: Mapped[int] = mapped_column(
        Integer, default=24, server_default="24", comment="service time in clock hours at priority acil"
    )
    description: Mapped[str | None] = mapped_column(String(500), comment="what the category covers, public")
    # Definitions as services/request_attributes.py describes them (Open311 GeoReport v2 attributes).
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=sql("'[]'::jsonb"), comment="extra questions asked at intake"
    )


class Institution(Base):
    """Another body a request can be redirected to (MESKİ, district municipalities, …)."""

    __tablename__ = "institutions"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))


# ---------------------------------------------------------------- citizen requests


class CitizenRequest(Base):
    __tablename__ = "citizen_requests"
    __table_args__ = (
        UniqueConstraint("channel", "channel_reference"),
        # What the anonymisation job still has to look at (services/anonymisation.py).
        Index(
            "ix_citizen_requests_to_anonymise",
            "closed_at",
            postgresql_where=sql(
                "closed_at IS NOT NULL AND (anonymised_at IS NULL OR anonymised_at < closed_at)"
            ),
        ),
        # Open requests by place, for duplicate detection (services/duplicates.py, migration 0014).
        Index(
            "ix_citizen_requests_open_location",
            sql("request_location(latitude, longitude)"),
            postgresql_using="gist",
            postgresql_where=sql(
                "closed_at IS NULL AND merged_into_id IS NULL"
                " AND latitude IS NOT NULL AND longitude IS NOT NULL"
            ),
        ),
    )
    # received_at comes back with the INSERT (RETURNING), not with a second query.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy's declarative form

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    tracking_code: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    channel_reference: Mapped[str] = mapped_column(String(100))
    request_type: Mapped[str] = mapped_column(String(20))
    category_code: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(30), index=True)
    directorate_code: Mapped[str | None] = mapped_column(String(40), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answer: Mapped[str | None] = mapped_column(String(20), comment="olumlu / olumsuz")
    priority: Mapped[str] = mapped_column(String(10), default="normal", server_default="normal")
    district: Mapped[str | None] = mapped_column(String(60), comment="ilçe, as the channel gave it")
    objection_deadline: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="until when the citizen may object to the answer (ISO 10002 7.8)"
    )
    process_instance_id: Mapped[str | None] = mapped_column(String(64))
    anonymised_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="when the personal data were anonymised (KVKK retention)"
    )
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("citizen_requests.id"),
        index=True,
        comment="the earlier request this duplicate was merged into; its answer is this one's",
    )
    attributes: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, comment="answers to the category's extra questions, by attribute code"
    )


class RequestPhoto(Base):
    """A photo the citizen attached at intake: checked like evidence, bytes beside the metadata."""

    __tablename__ = "request_photos"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen_requests.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class CitizenContact(Base):
    """Personal data (KVKK): kept apart from the request, encrypted at rest, never copied into the
    engine or logs."""

    __tablename__ = "citizen_contacts"

    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen_requests.id"), primary_key=True)
    full_name: Mapped[str] = mapped_column(EncryptedText())
    phone: Mapped[str | None] = mapped_column(EncryptedText())
    email: Mapped[str | None] = mapped_column(EncryptedText())
    address: Mapped[str | None] = mapped_column(EncryptedText())
    preferred_channel: Mapped[str] = mapped_column(String(10))
    wants_updates: Mapped[bool] = mapped_column(
        Boolean,
        default=True,
        server_default=true(),
        comment="status updates on the way (true) or only the receipt and the answer",
    )


class RequestEvent(Base):
    """The request's history: every state change with time and actor, kept after the engine purges."""

    __tablename__ = "request_events"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen_requests.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(100))
    event: Mapped[str] = mapped_column(String(60))
    public_text: Mapped[str | None] = mapped_column(String(300), comment="what the citizen sees")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class CitizenReply(Base):
    """The citizen's answer to an information request; only its id travels to the engine."""

    __tablename__ = "citizen_replies"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen_requests.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    text: Mapped[str] = mapped_column(Text)


class Objection(Base):
    """The citizen's objection to an answer (ISO 10002 7.8): Public Relations reopens or confirms."""

    __tablename__ = "objections"
    __table_args__ = (
        # One open objection per request (ISO 10002 7.8): the database refuses a second one.
        Index("uq_objections_one_open", "request_id", unique=True, postgresql_where=sql("status = 'acik'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen_requests.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), comment="acik / yeniden-acildi / kapanis-onaylandi")
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    justification: Mapped[str | None] = mapped_column(Text)


class SatisfactionRating(Base):
    """How the citizen rated the handling (ISO 10002 8.3): once per request, no personal data."""

    __tablename__ = "satisfaction_ratings"

    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen_requests.id"), primary_key=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Office(Base):
    """A unit that is not a directorate but takes part in the procedure (e.g. the IMS office).

    Escalation levels named in the diagrams resolve to these (or to a directorate's head)."""

    __tablename__ = "offices"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    staff_group: Mapped[str] = mapped_column(String(100), comment="Tasklist candidate group")


# ---------------------------------------------------------------- nonconformities and DİFs


class Nonconformity(Base):
    """The nonconforming service form (uygun olmayan ürün/hizmet formu): what was wrong and the decision."""

    __tablename__ = "nonconformities"
    __table_args__ = (UniqueConstraint("source", "reference"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("citizen_requests.id"), index=True)
    directorate_code: Mapped[str] = mapped_column(ForeignKey("directorates.code"), index=True)
    description: Mapped[str] = mapped_column(Text, comment="what was wrong")
    source: Mapped[str] = mapped_column(String(30), comment="how it was found")
    reference: Mapped[str | None] = mapped_column(String(100), comment="caller's id, for safe retries")
    found_by: Mapped[str] = mapped_column(String(100))
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status: Mapped[str] = mapped_column(String(30), index=True)
    decision: Mapped[str | None] = mapped_column(String(20), comment="yeniden-ac / yonlendir")
    institution_code: Mapped[str | None] = mapped_column(ForeignKey("institutions.code"))
    justification: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    process_instance_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retention_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Finding(Base):
    """Bulgu: the evidence that a service was nonconforming, opened to the directorate concerned."""

    __tablename__ = "findings"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    nonconformity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("nonconformities.id"), unique=True)
    directorate_code: Mapped[str] = mapped_column(ForeignKey("directorates.code"), index=True)
    description: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retention_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Dif(Base):
    """DİF: the corrective/improvement action form defined on a finding."""

    __tablename__ = "difs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    finding_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("findings.id"), unique=True)
    directorate_code: Mapped[str] = mapped_column(ForeignKey("directorates.code"), index=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    root_cause: Mapped[str | None] = mapped_column(Text)
    planned_by: Mapped[str | None] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retention_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    process_instance_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class DifAction(Base):
    """One planned action of a DİF, carried out by its owner with evidence."""

    __tablename__ = "dif_actions"
    __table_args__ = (UniqueConstraint("dif_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    dif_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("difs.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    responsible: Mapped[str] = mapped_column(String(100), comment="Tasklist user name of the owner")
    responsible_email: Mapped[str] = mapped_column(String(320), comment="where reminders go")
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), comment="acik / tamamlandi / geri-gonderildi")
    completed_by: Mapped[str | None] = mapped_column(String(100))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completion_note: Mapped[str | None] = mapped_column(Text)


class EvidenceFile(Base):
    """An attachment that proves an action was done; the bytes live in the same transaction."""

    __tablename__ = "evidence_files"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    action_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dif_actions.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class DifApproval(Base):
    """A decision on a DİF: the director's approval or send-back, the IMS office's verification."""

    __tablename__ = "dif_approvals"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    dif_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("difs.id"), index=True)
    step: Mapped[str] = mapped_column(String(30), comment="mudur-onayi / eys-dogrulama")
    decision: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)


class Escalation(Base):
    """A reminder or escalation sent because an action or an approval waited too long."""

    __tablename__ = "escalations"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    dif_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("difs.id"), index=True)
    action_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("dif_actions.id"))
    kind: Mapped[str] = mapped_column(String(30), comment="eylem-hatirlatma / eylem-gecikmesi / onay")
    level: Mapped[str] = mapped_column(String(40), comment="who was told: sorumlu, mudur, daire-baskani, …")
    recipient: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)


class QualityEvent(Base):
    """History of a nonconformity, finding or DİF: every step with time and actor."""

    __tablename__ = "quality_events"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    nonconformity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("nonconformities.id"), index=True)
    dif_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("difs.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(100))
    event: Mapped[str] = mapped_column(String(60))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class DifArchive(Base):
    """The closed DİF's report as archived (PDF), with its retention date (clause 7: 20 years)."""

    __tablename__ = "dif_archives"

    dif_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("difs.id"), primary_key=True)
    archived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    retention_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sha256: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class ProcessDeployment(Base):
    """Every version of a diagram, form or decision table that `kalite-deploy` gave the engine:
    what changed the procedure, when, with which content hash (an audit trail for process owners)."""

    __tablename__ = "process_deployments"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    resource_name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20), comment="process / form / decision")
    resource_id: Mapped[str] = mapped_column(String(200), comment="process id, form id or decision id")
    version: Mapped[int] = mapped_column(Integer)
    definition_id: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiKey(Base):
    """An intake integration's key (call centre, web, mobile, e-mail gateway, CİMER bridge):
    only the SHA-256 of its secret is kept; it may post requests of its own channel only."""

    __tablename__ = "api_keys"
    __table_args__ = (
        Index("uq_api_keys_active_name", "name", unique=True, postgresql_where=sql("revoked_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), comment="the integration, e.g. alo-185")
    channel: Mapped[str] = mapped_column(String(30), comment="the only channel value it may post")
    prefix: Mapped[str] = mapped_column(String(16), comment="first characters, to tell keys apart")
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    requests_per_minute: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One line of the audit trail (services/audit.py): who read or changed which row of personal
    data or of a quality record, and when; the detail names changed columns, never personal values.

    Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE) and hash-chained: `hash` is the
    SHA-256 of `prev_hash` and the row's canonical JSON; `seq` is consecutive, assigned under the
    appender's lock. `kalite-audit verify` walks the chain."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text, comment="a staff user, kanal:<key>, worker:<task type>, system")
    action: Mapped[str] = mapped_column(String(10), comment="read / insert / update / delete")
    entity: Mapped[str] = mapped_column(String(63), comment="table name")
    entity_id: Mapped[str] = mapped_column(Text, comment="primary key as text")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditInboxLine(Base):
    """An audit line committed with its change and waiting (about a second) for the sealer to chain
    it into `audit_log`; appending here takes no lock, so requests never queue behind the chain."""

    __tablename__ = "audit_inbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql("clock_timestamp()"))
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(10))
    entity: Mapped[str] = mapped_column(String(63))
    entity_id: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class MessageTemplate(Base):
    """One version of a mail or SMS text (services/wording.py): the newest version of a key, medium
    and category is what is sent. Versions are never changed, only added; version 1 is the shipped
    default (changed_by "sistem")."""

    __tablename__ = "message_templates"
    __table_args__ = (
        # A category-less template is a NULL category: coalesce so that NULLs collide too.
        Index(
            "uq_message_templates_version",
            "key",
            "medium",
            func.coalesce(sql("category_code"), ""),
            "version",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), comment="the event, e.g. vatandas.yanit-olumlu")
    medium: Mapped[str] = mapped_column(String(10), comment="eposta / sms")
    category_code: Mapped[str | None] = mapped_column(
        String(40), comment="the category it is for; NULL: every category without its own"
    )
    version: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(Text, comment="Jinja2 template of the mail subject; empty for SMS")
    body: Mapped[str] = mapped_column(Text, comment="Jinja2 template of the text")
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    note: Mapped[str | None] = mapped_column(Text, comment="why it was changed")


class RateLimit(Base):
    """One caller's token bucket, shared by every API process (services/api/rate_limit.py)."""

    __tablename__ = "rate_limits"

    caller: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float, comment="requests left in the bucket")
    allowed: Mapped[bool] = mapped_column(Boolean, comment="whether the last request got one")
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), index=True, comment="when it was last counted"
    )


class StaffSession(Base):
    """A signed-in member of staff on the staff pages (services/staff_sessions.py): only the hash
    of the cookie's random id is stored, so a copy of this table opens no session."""

    __tablename__ = "staff_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True, comment="SHA-256 of the cookie's id")
    username: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    directorate: Mapped[str | None] = mapped_column(String(40))
    id_token: Mapped[str] = mapped_column(Text, comment="the provider's ID token, for logout's id_token_hint")
    provider_sid: Mapped[str | None] = mapped_column(
        String(200),
        index=True,
        comment="the provider's session (sid of the ID token): a logout token naming it ends this",
    )
    provider_subject: Mapped[str | None] = mapped_column(
        String(200),
        index=True,
        comment="the provider's user (sub): a logout token without sid ends all of them",
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# ---------------------------------------------------------------- monitoring summaries (issue #15)
# Kept by services/indicator_refresh.py from the tables above; never written by anything else.


class WorkingCalendar(Base):
    """Every day from 2015 on, with the service time's calendar (services/working_days.py): in SQL,
    the working days between two days are the difference of their `wd_index`."""

    __tablename__ = "working_calendar"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    wd_index: Mapped[int] = mapped_column(Integer, comment="working days from 2015-01-01 up to this day")


class IndicatorDirty(Base):
    """Requests whose summary row is stale: triggers add them, the refresh takes them."""

    __tablename__ = "indicator_dirty"

    request_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)


class IndicatorRequest(Base):
    """One row per request (merged duplicates have none): what the figures count about it."""

    __tablename__ = "indicator_requests"
    __table_args__ = (
        Index("ix_indicator_requests_cell", "received_day", "directorate_code", "category_code", "channel"),
        # The open rows with what "overdue now" reads: an index-only scan.
        Index(
            "ix_indicator_requests_open",
            "received_day",
            postgresql_include=["due_at", "directorate_code", "category_code", "channel", "first_answer_at"],
            postgresql_where=sql("closed_at IS NULL"),
        ),
        # A category's requests (its histograms are read from here: the histogram tables have no category).
        Index(
            "ix_indicator_requests_category",
            "category_code",
            "received_day",
            postgresql_include=["directorate_code", "channel", "answer_wd", "close_wd"],
        ),
    )

    request_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_day: Mapped[date] = mapped_column(Date, comment="Istanbul date of receipt")
    channel: Mapped[str] = mapped_column(String(20))
    category_code: Mapped[str] = mapped_column(String(40), comment="'' when not routed")
    directorate_code: Mapped[str] = mapped_column(String(40), comment="'' when not routed")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), comment="current due date")
    first_due_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="due date of the first service period"
    )
    first_answer_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answer_wd: Mapped[int | None] = mapped_column(Integer, comment="working days receipt → first answer")
    close_wd: Mapped[int | None] = mapped_column(Integer, comment="working days receipt → close")
    on_time: Mapped[bool] = mapped_column(Boolean)
    reopened: Mapped[bool] = mapped_column(Boolean)
    redirected: Mapped[bool] = mapped_column(Boolean)
    wrong_directorate: Mapped[bool] = mapped_column(Boolean)
    info_requested: Mapped[bool] = mapped_column(Boolean)
    info_unanswered: Mapped[bool] = mapped_column(Boolean)
    nonconforming: Mapped[bool] = mapped_column(Boolean)
    objected: Mapped[bool] = mapped_column(Boolean)
    objection_upheld: Mapped[bool] = mapped_column(Boolean)
    objection_rejected: Mapped[bool] = mapped_column(Boolean)
    objection_open: Mapped[bool] = mapped_column(Boolean)
    invited: Mapped[bool] = mapped_column(Boolean)
    rating: Mapped[int | None] = mapped_column(SmallInteger)


class _DailyCounts:
    """The request rows summed per cell: what indicator_daily and indicator_monthly hold."""

    directorate_code: Mapped[str] = mapped_column(String(40))
    category_code: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    requests: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    due_answered: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    reopened: Mapped[int] = mapped_column(Integer)
    redirected: Mapped[int] = mapped_column(Integer)
    wrong_directorate: Mapped[int] = mapped_column(Integer)
    info_requested: Mapped[int] = mapped_column(Integer)
    info_unanswered: Mapped[int] = mapped_column(Integer)
    nonconforming: Mapped[int] = mapped_column(Integer)
    objected: Mapped[int] = mapped_column(Integer)
    objection_upheld: Mapped[int] = mapped_column(Integer)
    objection_rejected: Mapped[int] = mapped_column(Integer)
    objection_open: Mapped[int] = mapped_column(Integer)
    invited: Mapped[int] = mapped_column(Integer)
    rated: Mapped[int] = mapped_column(Integer)
    rated_invited: Mapped[int] = mapped_column(Integer)
    rating_sum: Mapped[int] = mapped_column(Integer)
    rating_low: Mapped[int] = mapped_column(Integer)


class IndicatorDaily(_DailyCounts, Base):
    """Per day of receipt, directorate, category and channel."""

    __tablename__ = "indicator_daily"
    __table_args__ = (PrimaryKeyConstraint("day", "directorate_code", "category_code", "channel"),)

    day: Mapped[date] = mapped_column(Date)


class IndicatorMonthly(_DailyCounts, Base):
    """The daily sums per month (`day` is the month's first day): a year reads twelve of them."""

    __tablename__ = "indicator_monthly"
    __table_args__ = (PrimaryKeyConstraint("day", "directorate_code", "category_code", "channel"),)

    day: Mapped[date] = mapped_column(Date, comment="first day of the month")


class _Histogram:
    """Working days (receipt → first answer: yanit; → close: kapanis) counted per cell: exact
    medians and 90th percentiles without reading every request."""

    directorate_code: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10), comment="yanit / kapanis")
    wd: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)


class IndicatorDuration(_Histogram, Base):
    __tablename__ = "indicator_durations"
    __table_args__ = (PrimaryKeyConstraint("day", "directorate_code", "channel", "kind", "wd"),)

    day: Mapped[date] = mapped_column(Date)


class IndicatorDurationMonthly(_Histogram, Base):
    __tablename__ = "indicator_durations_monthly"
    __table_args__ = (PrimaryKeyConstraint("day", "directorate_code", "channel", "kind", "wd"),)

    day: Mapped[date] = mapped_column(Date, comment="first day of the month")
