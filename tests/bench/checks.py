"""What `make bench` and `make fault` check after their traffic, from the three places a request
leaves a trace: our database, the engine (history, open tasks, incidents) and the SMTP mailbox.

Every accepted request must be stored once, have exactly one `birim-istek` process instance (found
in the engine's history by business key — the request id — and started by the request's own outbox
row, `startedBy`), that instance's open "Talebi değerlendir" task, one sent directorate notification
and one directorate mail in the mailbox.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, text

from services.operaton import STARTED_BY, Operaton, plain
from tests.integration.citizen import payload as citizen_request

REQUEST_PROCESS = "birim-istek"
STAFF_TASK = "talebi-degerlendir"
# The task is named after what it is about: "Talebi değerlendir — <tracking number> · …".
STAFF_TASK_NAME = "Talebi değerlendir — "
DIRECTORATE_SUBJECT = "Yeni birim istek"
# The directorate mail names the request: `("Talebi değerlendir", talep <request id>)`.
_REQUEST_IN_MAIL = re.compile(r"talep ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\)")
_MAILBOX_STAMP = "%Y%m%dT%H%M%S%f"  # deploy/local/mailbox.py names each message by its arrival (UTC)
_CHUNK = 100  # ids per engine query (request bodies, not URLs)

T = TypeVar("T")


def payload(channel_reference: str, category_code: str = "TEMIZLIK-COP") -> dict[str, Any]:
    """A web integration's `POST /requests` body with this channel reference, at a place of its
    own in central Mersin (about 10 × 10 km, fixed by the reference): thousands of open requests
    on one spot would make every request's duplicate search compare with all of them, which the
    city does not do."""
    digest = hashlib.sha256(channel_reference.encode()).digest()
    latitude = 36.75 + int.from_bytes(digest[:4]) / 2**32 * 0.09
    longitude = 34.55 + int.from_bytes(digest[4:8]) / 2**32 * 0.11
    body = citizen_request(channelReference=channel_reference, categoryCode=category_code)
    body["location"] = {**body["location"], "latitude": round(latitude, 6), "longitude": round(longitude, 6)}
    return body


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------- our database


@dataclass(frozen=True)
class StoredRequest:
    id: str
    channel_reference: str
    received_at: datetime
    process_instance_id: str | None
    notifications_sent: int  # directorate notifications with sent_at
    notified_at: datetime | None
    outbox_starts: int  # process starts the intake committed for it
    start_id: str | None  # the outbox row's id: the instance's `startedBy`


def stored_requests(database: Engine, reference_prefix: str) -> list[StoredRequest]:
    """Our web requests whose channel reference starts with this prefix, with their notifications
    and outbox starts."""
    query = text(
        "WITH r AS (SELECT id, channel_reference, received_at, process_instance_id "
        "  FROM citizen_requests WHERE channel = 'web' AND channel_reference LIKE :prefix), "
        "o AS (SELECT correlation_key, count(*) AS starts, min(id::text) AS start_id FROM outbox "
        "  WHERE starts_process AND correlation_key IN (SELECT id::text FROM r) GROUP BY correlation_key) "
        "SELECT r.id::text AS id, r.channel_reference, r.received_at, r.process_instance_id, "
        "  coalesce(n.sent, 0) AS sent, n.sent_at, coalesce(o.starts, 0) AS starts, o.start_id "
        "FROM r "
        "LEFT JOIN LATERAL (SELECT count(*) FILTER (WHERE sent_at IS NOT NULL) AS sent, "
        "  min(sent_at) AS sent_at FROM notifications "
        "  WHERE idempotency_key LIKE 'notify:' || r.id::text || ':%') n ON true "
        "LEFT JOIN o ON o.correlation_key = r.id::text"
    )
    with database.connect() as c:
        rows = c.execute(query, {"prefix": _like_prefix(reference_prefix)}).mappings().all()
    return [
        StoredRequest(
            id=r["id"],
            channel_reference=r["channel_reference"],
            received_at=r["received_at"],
            process_instance_id=r["process_instance_id"],
            notifications_sent=int(r["sent"]),
            notified_at=r["sent_at"],
            outbox_starts=int(r["starts"]),
            start_id=r["start_id"],
        )
        for r in rows
    ]


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"


def database_sizes(database: Engine, names: Iterable[str]) -> dict[str, int]:
    """Bytes on disk of these databases of our PostgreSQL server (ours, the engine's)."""
    with database.connect() as c:
        return {
            name: int(
                c.execute(
                    text("SELECT coalesce(pg_database_size(datname), 0) FROM pg_database WHERE datname = :n"),
                    {"n": name},
                ).scalar()
                or 0
            )
            for name in names
        }


# ---------------------------------------------------------------- the engine


def instances_by_business_key(
    engine: Operaton, process_key: str, business_keys: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """The engine's historic instances (running and ended) of this process, per business key."""
    found: dict[str, list[dict[str, Any]]] = {}
    for chunk in chunks(sorted(set(business_keys))):
        rows = engine.json(
            "POST",
            "/history/process-instance",
            json={"processDefinitionKey": process_key, "processInstanceBusinessKeyIn": list(chunk)},
            params={"maxResults": 10 * len(chunk)},
        )
        for row in rows:
            found.setdefault(row["businessKey"], []).append(row)
    return found


def started_by(engine: Operaton, instance_ids: Iterable[str]) -> dict[str, str]:
    """Each instance's `startedBy` (the outbox row that started it), from the engine's history."""
    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(instance_ids))):
        rows = engine.json(
            "POST",
            "/history/variable-instance",
            json={"variableName": STARTED_BY, "processInstanceIdIn": list(chunk)},
            params={"deserializeValues": "false", "maxResults": 10 * len(chunk)},
        )
        for row in rows:
            found[row["processInstanceId"]] = str(plain(row))
    return found


def open_tasks(engine: Operaton, instance_ids: Iterable[str], activity_id: str) -> dict[str, list[str]]:
    """Names of the open user tasks of this step, per process instance."""
    found: dict[str, list[str]] = {}
    for chunk in chunks(sorted(set(instance_ids))):
        rows = engine.json(
            "POST",
            "/task",
            json={"processInstanceIdIn": list(chunk), "taskDefinitionKey": activity_id},
            params={"maxResults": 10 * len(chunk)},
        )
        for row in rows:
            found.setdefault(row["processInstanceId"], []).append(row.get("name") or "")
    return found


def open_incidents(engine: Operaton, instance_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Open incidents (what Cockpit lists) of these instances."""
    wanted = set(instance_ids)
    incidents: list[dict[str, Any]] = engine.json("GET", "/incident", params={"maxResults": 100_000})
    return [i for i in incidents if i.get("processInstanceId") in wanted]


# ---------------------------------------------------------------- the mailbox


@dataclass(frozen=True)
class Mail:
    accepted_at: datetime  # when the SMTP server accepted (and stored) it
    message_id: str


class Mailbox:
    """The directorate mails in the local SMTP mailbox, per request id; read incrementally."""

    def __init__(self, folder: Path, since: datetime) -> None:
        self.folder = folder
        self._since = since.astimezone(UTC).strftime(_MAILBOX_STAMP)
        self._seen: set[str] = set()
        self.by_request: dict[str, list[Mail]] = {}

    def scan(self) -> None:
        parser = BytesParser(policy=policy.default)
        for path in sorted(self.folder.glob("*.eml")):
            name = path.name
            if name in self._seen or name < self._since:
                continue
            self._seen.add(name)
            message = parser.parsebytes(path.read_bytes())
            if not str(message["Subject"] or "").startswith(DIRECTORATE_SUBJECT):
                continue
            body = message.get_body(preferencelist=("plain",))
            found = _REQUEST_IN_MAIL.search(str(body.get_content()) if body is not None else "")
            if found is None:
                continue
            accepted = datetime.strptime(name.split("-", 1)[0], _MAILBOX_STAMP).replace(tzinfo=UTC)
            self.by_request.setdefault(found.group(1), []).append(
                Mail(accepted_at=accepted, message_id=str(message["Message-ID"] or ""))
            )

    def first(self, request_id: str) -> datetime | None:
        mails = self.by_request.get(request_id)
        return min(m.accepted_at for m in mails) if mails else None


# ---------------------------------------------------------------- the verdict


@dataclass
class Correctness:
    accepted: int = 0  # requests stored
    duplicate_rows: int = 0  # a channel reference stored more than once
    without_outbox_start: int = 0
    instances: int = 0  # `birim-istek` instances of these requests in the engine's history
    without_instance: int = 0
    extra_instances: int = 0  # beyond one per request
    not_started_by_its_outbox_row: int = 0  # startedBy is not the request's outbox row
    instance_id_mismatch: int = 0  # our process_instance_id is not the engine's instance
    staff_tasks: int = 0
    without_staff_task: int = 0
    extra_staff_tasks: int = 0
    notifications: int = 0
    without_notification: int = 0
    extra_notifications: int = 0
    mails: int = 0
    without_mail: int = 0
    extra_mails: int = 0
    extra_mails_same_message_id: int = 0  # of extra_mails: the same message delivered again
    incidents: int = 0
    incident_messages: list[str] = field(default_factory=list)

    @property
    def duplicated(self) -> int:
        return (
            self.duplicate_rows
            + self.extra_instances
            + self.extra_staff_tasks
            + self.extra_notifications
            + self.extra_mails
        )

    @property
    def unfinished(self) -> int:
        return (
            self.without_outbox_start
            + self.without_instance
            + self.not_started_by_its_outbox_row
            + self.instance_id_mismatch
            + self.without_staff_task
            + self.without_notification
            + self.without_mail
        )


def judge(rows: Sequence[StoredRequest], engine: Operaton, mailbox: Mailbox) -> Correctness:
    verdict = Correctness(accepted=len({r.channel_reference for r in rows}))
    verdict.duplicate_rows = sum(n - 1 for n in Counter(r.channel_reference for r in rows).values())
    verdict.without_outbox_start = sum(1 for r in rows if r.outbox_starts == 0)

    instances = instances_by_business_key(engine, REQUEST_PROCESS, (r.id for r in rows))
    all_ids = [i["id"] for found in instances.values() for i in found]
    starters = started_by(engine, all_ids)
    tasks = open_tasks(engine, all_ids, STAFF_TASK)
    mailbox.scan()
    for r in rows:
        mine = instances.get(r.id, [])
        verdict.instances += len(mine)
        verdict.without_instance += not mine
        verdict.extra_instances += max(len(mine) - 1, 0)
        verdict.not_started_by_its_outbox_row += sum(
            1 for i in mine if starters.get(i["id"]) != r.start_id or r.start_id is None
        )
        verdict.instance_id_mismatch += bool(mine) and r.process_instance_id not in {i["id"] for i in mine}
        staff = [name for i in mine for name in tasks.get(i["id"], []) if name.startswith(STAFF_TASK_NAME)]
        verdict.staff_tasks += len(staff)
        verdict.without_staff_task += not staff
        verdict.extra_staff_tasks += max(len(staff) - 1, 0)
        verdict.notifications += r.notifications_sent
        verdict.without_notification += r.notifications_sent == 0
        verdict.extra_notifications += max(r.notifications_sent - 1, 0)
        mails = mailbox.by_request.get(r.id, [])
        verdict.mails += len(mails)
        verdict.without_mail += not mails
        verdict.extra_mails += max(len(mails) - 1, 0)
        verdict.extra_mails_same_message_id += len(mails) - len({m.message_id for m in mails})
    incidents = open_incidents(engine, all_ids)
    verdict.incidents = len(incidents)
    verdict.incident_messages = sorted({str(i.get("incidentMessage") or "")[:200] for i in incidents})
    return verdict
