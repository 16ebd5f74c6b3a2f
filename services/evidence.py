"""Evidence files that close DİF actions (clause 5.4): checked, hashed and stored in one transaction.

The bytes live in PostgreSQL next to their metadata, so an upload is either wholly there (row,
size, SHA-256 and content) or not at all, and backups carry the evidence with the records.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from services.db import UnitOfWorkFactory
from services.models import Dif, DifAction, EvidenceFile
from services.quality_records import RecordNotFound, add_event

# What the first bytes of each accepted type must look like: the declared type alone is the
# client's word, and a renamed executable should not pass as a PDF.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
}


class EvidenceRejected(ValueError):
    def __init__(self, message: str, *, too_large: bool = False, unsupported: bool = False) -> None:
        super().__init__(message)
        self.too_large, self.unsupported = too_large, unsupported


class ActionClosed(Exception):
    """Evidence of a finished action or a closed DİF is part of the record and cannot change."""


@dataclass(frozen=True)
class Upload:
    file_name: str
    content_type: str
    data: bytes
    uploaded_by: str


def check(upload: Upload, *, max_bytes: int, allowed_types: list[str]) -> None:
    media_type = upload.content_type.split(";")[0].strip().lower()
    if not upload.data:
        raise EvidenceRejected("file: empty file")
    if len(upload.data) > max_bytes:
        raise EvidenceRejected(f"file: larger than {max_bytes} bytes", too_large=True)
    if media_type not in allowed_types:
        raise EvidenceRejected(
            f"file: type {media_type} not allowed; allowed: {', '.join(allowed_types)}", unsupported=True
        )
    signatures = SIGNATURES.get(media_type)
    if signatures and not upload.data.startswith(signatures):
        raise EvidenceRejected(f"file: content is not {media_type}", unsupported=True)
    if media_type == "text/plain":
        try:
            upload.data.decode("utf-8")
        except UnicodeDecodeError:
            raise EvidenceRejected("file: text/plain must be UTF-8") from None
    if not upload.uploaded_by.strip() or not upload.uploaded_by.isprintable():
        raise EvidenceRejected("uploadedBy: printable characters only")
    name = upload.file_name.strip()
    if not name or len(name) > 255 or any(c in name for c in "/\\\x00") or not name.isprintable():
        raise EvidenceRejected("file: file name must be 1-255 printable characters without slashes")


def add(
    uow_factory: UnitOfWorkFactory,
    *,
    dif_id: uuid.UUID,
    action_id: uuid.UUID,
    upload: Upload,
    max_bytes: int,
    allowed_types: list[str],
) -> EvidenceFile:
    """Store the upload as the action's evidence once it passes `check` (every way in: the API,
    the staff pages)."""
    check(upload, max_bytes=max_bytes, allowed_types=allowed_types)
    with uow_factory() as uow:
        action = _open_action(uow.session, dif_id, action_id)
        row = EvidenceFile(
            id=uuid.uuid4(),
            action_id=action.id,
            file_name=upload.file_name.strip(),
            content_type=upload.content_type.split(";")[0].strip().lower(),
            size=len(upload.data),
            sha256=hashlib.sha256(upload.data).hexdigest(),
            uploaded_by=upload.uploaded_by,
            content=upload.data,
        )
        uow.session.add(row)
        add_event(
            uow.session,
            "kanit-yuklendi",
            dif_id=dif_id,
            actor=upload.uploaded_by,
            details={
                "actionId": str(action.id),
                "file": row.file_name,
                "sha256": row.sha256,
                "size": row.size,
            },
        )
        uow.commit()
        uow.session.expunge(row)
        return row


def _open_action(session: Session, dif_id: uuid.UUID, action_id: uuid.UUID) -> DifAction:
    action = session.get(DifAction, action_id, with_for_update=True)
    if action is None or action.dif_id != dif_id:
        raise RecordNotFound(f"action {action_id} of DİF {dif_id}")
    dif = session.get(Dif, dif_id)
    assert dif is not None
    if dif.closed_at is not None or action.status == "tamamlandi":
        raise ActionClosed("the action is finished; its evidence is part of the record")
    return action


def listing(uow_factory: UnitOfWorkFactory, action_ids: list[uuid.UUID]) -> list[EvidenceFile]:
    with uow_factory() as uow:
        rows = list(
            uow.session.scalars(
                select(EvidenceFile)
                .where(EvidenceFile.action_id.in_(action_ids))
                .order_by(EvidenceFile.uploaded_at, EvidenceFile.id)
            )
        )
        uow.session.expunge_all()
        return rows


def read(uow_factory: UnitOfWorkFactory, *, dif_id: uuid.UUID, evidence_id: uuid.UUID) -> EvidenceFile:
    with uow_factory() as uow:
        row = uow.session.scalar(
            select(EvidenceFile)
            .join(DifAction, DifAction.id == EvidenceFile.action_id)
            .where(EvidenceFile.id == evidence_id, DifAction.dif_id == dif_id)
            .options(undefer(EvidenceFile.content))
        )
        if row is None:
            raise RecordNotFound(f"evidence {evidence_id} of DİF {dif_id}")
        uow.session.expunge(row)
        return row


def remove(uow_factory: UnitOfWorkFactory, *, dif_id: uuid.UUID, evidence_id: uuid.UUID, actor: str) -> None:
    """A wrong upload may be taken back while its action is open; never afterwards."""
    with uow_factory() as uow:
        row = uow.session.get(EvidenceFile, evidence_id)
        if row is None:
            raise RecordNotFound(f"evidence {evidence_id} of DİF {dif_id}")
        _open_action(uow.session, dif_id, row.action_id)
        add_event(
            uow.session,
            "kanit-silindi",
            dif_id=dif_id,
            actor=actor,
            details={"actionId": str(row.action_id), "file": row.file_name, "sha256": row.sha256},
        )
        uow.session.delete(row)
        uow.commit()


def summary(uow_factory: UnitOfWorkFactory, dif_id: uuid.UUID) -> tuple[str | None, dict[str, str]]:
    """The DİF's process instance and, per action id, its files one per line: what the action's
    Tasklist form shows."""
    with uow_factory() as uow:
        dif = uow.session.get(Dif, dif_id)
        process_instance_id = dif.process_instance_id if dif else None
        rows = uow.session.execute(
            select(DifAction.id, EvidenceFile.file_name, EvidenceFile.size)
            .join(EvidenceFile, EvidenceFile.action_id == DifAction.id)
            .where(DifAction.dif_id == dif_id)
            .order_by(EvidenceFile.uploaded_at)
        ).all()
    lines: dict[str, list[str]] = {}
    for action_id, name, size in rows:
        lines.setdefault(str(action_id), []).append(f"• {name} ({_human(size)})")
    return process_instance_id, {key: "\n".join(value) for key, value in lines.items()}


def _human(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
