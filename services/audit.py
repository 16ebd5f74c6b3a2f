"""The audit trail: every read and change of citizens' personal data and every change of a quality
record, as an append-only, hash-chained log (`audit_log`) that `kalite-audit verify` checks.

Who: the actor of the current context — `acting_as(...)`/`set_actor(...)`; the API sets the caller
(a staff user name, `kanal:<key name>`), the workers `worker:<task type>`; otherwise `system`.

What is captured, by the sessions that `audited_sessionmaker` makes (the composition root's):

- changes: every insert, update and delete of the models in `AUDITED`, flushed through ORM objects
  (`after_flush`), and ORM bulk UPDATE and DELETE statements on them (their rows are selected FOR
  UPDATE first and recorded one by one); a bulk INSERT is refused, as it could not be. The detail
  names the changed columns, never their values — except the few non-personal columns in
  `SAFE_VALUES` (status, decision, …), whose new value is kept. SQL text (`text(...)`) is not seen.
- reads: every `CitizenContact` and `CitizenReply` loaded (or refreshed) from the database, once
  per transaction.

When: the entries of a transaction are put in the inbox (`audit_inbox`) in its `before_commit`, on
its own connection, so a change is in the trail exactly when it committed. Reads are in the trail
even when the transaction does not commit (a read-only unit of work always rolls back): what is
still pending when the transaction ends without a commit is written in a short transaction of its
own. The inbox takes no lock: requests never wait for each other on account of the trail.

The chain: the sealer (`seal`; the workers run it every second, `kalite-audit seal` on demand)
takes a transaction-scoped advisory lock (`LOCK_KEY`) that only sealers use, reads the committed
inbox lines oldest first and the chain's head, appends the lines with consecutive `seq` values and
removes them from the inbox, in one transaction:

    hash = sha256(prev_hash + canonical_json({seq, at, actor, action, entity, entity_id, detail}))

that is, SHA-256 over the 64 lowercase hex characters of `prev_hash` (ASCII) followed by the
canonical JSON; `prev_hash` of the first row is 64 zeros. `canonical_json` is UTF-8 JSON with
sorted keys, no whitespace (`,` and `:` separators), non-ASCII characters as they are and no
NaN/Infinity; `at` is the UTC time as ISO 8601 with microseconds
(`2026-11-23T07:30:00.123456+00:00`; the database's clock when the line entered the inbox),
`entity_id` the primary key as a string (`,`-joined if composite).

`seq` is assigned by the sealer, so rolled-back transactions leave no holes and a gap in `seq`
always means a removed row. The primary key on `seq` makes a fork impossible. A line waits in the
inbox for about a second; there a trigger refuses changing it (the sealer only copies and deletes).

A trigger refuses UPDATE, DELETE and TRUNCATE on `audit_log` (migration 0007). Someone who can
switch the trigger off (the table's owner) can change a row: `verify` then reports the first broken
link. Rewriting the whole chain from the tampered row on, or cutting its tail, is only visible
against a head noted elsewhere: `verify` prints the head's seq and hash for that.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, delete, event, func, insert, inspect, select, text
from sqlalchemy.orm import InstanceState, Mapper, ORMExecuteState, Session, SessionTransaction, sessionmaker

from services.models import (
    AuditEntry,
    AuditInboxLine,
    CitizenContact,
    CitizenReply,
    CitizenRequest,
    Dif,
    DifAction,
    DifApproval,
    DifArchive,
    Escalation,
    EvidenceFile,
    Finding,
    Nonconformity,
    Notification,
    QualityEvent,
    RequestEvent,
)

SYSTEM = "system"
log = logging.getLogger("audit")
GENESIS = "0" * 64
# pg_advisory_xact_lock key of the appender: "audit" in ASCII. Nothing else may use it.
LOCK_KEY = 0x6175646974

# Citizens' personal data (the tables anonymisation touches) and the quality records (clause 7).
PERSONAL_DATA: tuple[type[Any], ...] = (
    CitizenRequest,
    CitizenContact,
    CitizenReply,
    RequestEvent,
    Notification,
)
QUALITY_RECORDS: tuple[type[Any], ...] = (
    Nonconformity,
    Finding,
    Dif,
    DifAction,
    EvidenceFile,
    DifApproval,
    Escalation,
    QualityEvent,
    DifArchive,
)
AUDITED: frozenset[type[Any]] = frozenset(PERSONAL_DATA + QUALITY_RECORDS)
# Loading one of these is a read of personal data.
READ_AUDITED: tuple[type[Any], ...] = (CitizenContact, CitizenReply)
# Columns whose new value may be in the detail: codes and states, never a person or free text.
SAFE_VALUES = frozenset(
    {"status", "decision", "step", "kind", "level", "directorate_code", "institution_code", "category_code"}
)

_ENABLED = "audit.enabled"
_STATE = "audit.state"
_actor: ContextVar[str] = ContextVar("audit_actor", default=SYSTEM)


class AuditError(RuntimeError):
    """A change the audit trail could not record; the transaction must not go on."""


# ---------------------------------------------------------------- who


def current_actor() -> str:
    return _actor.get()


def set_actor(actor: str) -> Token[str]:
    """The actor of the rest of this context (a request's task, an external task's handler)."""
    if not actor.strip():
        raise ValueError("an audit actor must not be empty")
    return _actor.set(actor)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    token = set_actor(actor)
    try:
        yield
    finally:
        _actor.reset(token)


# ---------------------------------------------------------------- the chain


@dataclass(frozen=True)
class Entry:
    actor: str
    action: str  # read / insert / update / delete
    entity: str  # table name
    entity_id: str
    detail: dict[str, Any] = field(default_factory=dict)


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit times carry their time zone")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    detail: dict[str, Any],
) -> str:
    payload = {
        "seq": seq,
        "at": iso(at),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "detail": detail,
    }
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(payload)).hexdigest()


def append(connection: Connection, entries: Sequence[Entry]) -> None:
    """Put entries in the inbox inside the connection's transaction: they exist exactly when it
    commits. No lock: the sealer chains them (`seal`), so requests never queue behind the chain."""
    if not entries:
        return
    connection.execute(
        insert(AuditInboxLine),
        [
            {
                "actor": e.actor,
                "action": e.action,
                "entity": e.entity,
                "entity_id": e.entity_id,
                "detail": e.detail,
            }
            for e in entries
        ],
    )


def seal(connection: Connection, *, limit: int = 5000) -> int:
    """Chain up to `limit` committed inbox lines into `audit_log`, oldest first, and take them out
    of the inbox, in the connection's transaction (commit it). Sealers exclude each other with the
    advisory lock; under READ COMMITTED each statement after it sees what the last one committed,
    and only committed inbox lines. Returns how many lines were sealed."""
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    inbox = AuditInboxLine.__table__.c
    lines = connection.execute(
        select(inbox.id, inbox.at, inbox.actor, inbox.action, inbox.entity, inbox.entity_id, inbox.detail)
        .order_by(inbox.id)
        .limit(limit)
    ).all()
    if not lines:
        return 0
    head = connection.execute(
        text(
            "SELECT last.seq, last.hash FROM (SELECT 1) AS one "
            "LEFT JOIN LATERAL (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) AS last ON true"
        )
    ).one()
    seq: int = head[0] or 0
    prev_hash: str = head[1] or GENESIS
    rows = []
    for line in lines:
        seq += 1
        hashed = {"seq": seq, **line._asdict()}
        del hashed["id"]  # the inbox's own key is not part of the line
        row_hash = entry_hash(prev_hash, **hashed)
        rows.append({**hashed, "prev_hash": prev_hash, "hash": row_hash})
        prev_hash = row_hash
    connection.execute(insert(AuditEntry), rows)
    connection.execute(delete(AuditInboxLine).where(inbox.id.in_([line.id for line in lines])))
    return len(lines)


def seal_all(engine: Engine) -> int:
    """Seal everything committed so far, a batch per transaction."""
    total = 0
    while True:
        with engine.begin() as connection:
            sealed = seal(connection)
        total += sealed
        if sealed == 0:
            return total


async def run_sealer(engine: Engine, *, every_seconds: float, stop: asyncio.Event) -> None:
    """The workers' background sealer: chains the inbox every `every_seconds` until `stop`."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(seal_all, engine)
        except Exception as error:  # the database away: the lines wait in the inbox, nothing is lost
            log.warning("audit lines not sealed this round: %s", type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


@dataclass
class Verification:
    rows: int = 0
    first_break: Break | None = None
    breaks: int = 0
    head_seq: int | None = None
    head_hash: str | None = None
    unsealed: int = 0  # lines committed but not chained yet (the sealer runs every second)

    @property
    def ok(self) -> bool:
        return self.first_break is None


def verify(connection: Connection, *, batch: int = 2000) -> Verification:
    """Walk the whole chain in seq order, streaming; every link is checked, the first break kept."""
    result = Verification()
    expected_seq, expected_prev = 1, GENESIS
    columns = AuditEntry.__table__.c
    rows = connection.execution_options(yield_per=batch).execute(
        select(
            columns.seq,
            columns.at,
            columns.actor,
            columns.action,
            columns.entity,
            columns.entity_id,
            columns.detail,
            columns.prev_hash,
            columns.hash,
        ).order_by(columns.seq)
    )
    for row in rows:
        result.rows += 1
        reasons = []
        if row.seq != expected_seq:
            reasons.append(f"gap in seq: expected {expected_seq}, found {row.seq}")
        if row.prev_hash != expected_prev:
            reasons.append(f"prev_hash mismatch: {row.prev_hash} instead of {expected_prev}")
        computed = entry_hash(
            row.prev_hash,
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            detail=row.detail,
        )
        if computed != row.hash:
            reasons.append(f"hash mismatch: stored {row.hash}, computed {computed}")
        if reasons:
            result.breaks += 1
            if result.first_break is None:
                result.first_break = Break(row.seq, "; ".join(reasons))
        # Go on from what is stored, so that every later break is found on its own.
        expected_seq, expected_prev = row.seq + 1, row.hash
        result.head_seq, result.head_hash = row.seq, row.hash
    result.unsealed = connection.scalar(select(func.count()).select_from(AuditInboxLine)) or 0
    return result


# ---------------------------------------------------------------- capture


@dataclass
class _Pending:
    entries: list[Entry] = field(default_factory=list)
    written: int = 0  # entries already inserted in the transaction now committing
    reads: set[tuple[str, str]] = field(default_factory=set)
    savepoints: dict[SessionTransaction, int] = field(default_factory=dict)
    released: set[SessionTransaction] = field(default_factory=set)


def audited_sessionmaker(engine: Engine, **options: Any) -> sessionmaker[Session]:
    """A session factory whose sessions record what the audit trail needs (see the module)."""
    factory: sessionmaker[Session] = sessionmaker(engine, info={_ENABLED: True}, **options)
    event.listen(factory, "after_transaction_create", _transaction_created)
    event.listen(factory, "after_flush", _flushed)
    event.listen(factory, "do_orm_execute", _statement)
    event.listen(factory, "before_commit", _committing)
    event.listen(factory, "after_commit", _committed)
    event.listen(factory, "after_transaction_end", _transaction_ended)
    for model in READ_AUDITED:
        if not event.contains(model, "load", _loaded):
            event.listen(model, "load", _loaded)
            event.listen(model, "refresh", _refreshed)
    return factory


def _state(session: Session) -> _Pending:
    pending = session.info.get(_STATE)
    if pending is None:
        pending = session.info[_STATE] = _Pending()
    assert isinstance(pending, _Pending)
    return pending


def _table(mapper: Mapper[Any]) -> str:
    name: str = mapper.class_.__tablename__
    return name


def _entity_id(values: Iterable[Any]) -> str:
    return ",".join(str(v) for v in values)


def _transaction_created(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        _state(session).savepoints[transaction] = len(_state(session).entries)


def _flushed(session: Session, flush_context: Any) -> None:
    """The flush's rows, with the history it is still holding: column names, safe values."""
    pending, actor = _state(session), current_actor()
    for action, objects in (("insert", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            if type(obj) not in AUDITED:
                continue
            state: InstanceState[Any] = inspect(obj)
            mapper = state.mapper
            if action == "insert":
                identity = list(mapper.primary_key_from_instance(obj))
                columns = [c.key for c in mapper.column_attrs if state.dict.get(c.key) is not None]
            else:
                identity = list(state.identity or ())
                columns = []
                if action == "update":
                    columns = [c.key for c in mapper.column_attrs if state.attrs[c.key].history.has_changes()]
                    if not columns:
                        continue  # nothing was written
            detail: dict[str, Any] = {"columns": sorted(columns)} if columns else {}
            values = {
                key: state.dict[key]
                for key in columns
                if key in SAFE_VALUES and isinstance(state.dict.get(key), str | int | bool)
            }
            if values:
                detail["values"] = values
            pending.entries.append(Entry(actor, action, _table(mapper), _entity_id(identity), detail))


def _statement(execute_state: ORMExecuteState) -> Any:
    """ORM bulk UPDATE and DELETE bypass the flush: their rows are selected (and locked) first and
    recorded one by one; a bulk INSERT, or an UPDATE by a list of primary keys, is refused."""
    if not (execute_state.is_delete or execute_state.is_update or execute_state.is_insert):
        return None
    mapper: Mapper[Any] | None = execute_state.bind_mapper
    if mapper is None or mapper.class_ not in AUDITED:
        return None
    table, statement, parameters = _table(mapper), execute_state.statement, execute_state.parameters
    if execute_state.is_insert or not isinstance(parameters, dict | None):
        raise AuditError(
            f"a bulk INSERT, or UPDATE by primary keys, on {table} is not audited: use ORM objects"
        )
    detail: dict[str, Any] = {"bulk": True}
    if execute_state.is_update:
        columns = _set_columns(statement)
        if not columns:
            raise AuditError(f"the columns a bulk UPDATE on {table} sets are unknown: use ORM objects")
        detail["columns"] = columns
    query = select(*mapper.primary_key).with_for_update()
    where = getattr(statement, "whereclause", None)
    if where is not None:
        query = query.where(where)
    ids = [_entity_id(row) for row in execute_state.session.execute(query, parameters)]
    result = execute_state.invoke_statement()
    if not isinstance(result, CursorResult) or result.rowcount != len(ids):
        # A row began to match between the two statements: refuse rather than leave it out.
        raise AuditError(
            f"a bulk statement on {table} met {getattr(result, 'rowcount', '?')} rows, not {len(ids)}"
        )
    action, actor = ("update" if execute_state.is_update else "delete"), current_actor()
    pending = _state(execute_state.session)
    pending.entries.extend(Entry(actor, action, table, entity_id, detail) for entity_id in ids)
    return result


def _set_columns(statement: Any) -> list[str]:
    """The column names an UPDATE statement sets (SQLAlchemy keeps them in `_values`/`_ordered_values`)."""
    pairs = getattr(statement, "_ordered_values", None) or list(
        (getattr(statement, "_values", None) or {}).items()
    )
    names = {key if isinstance(key, str) else getattr(key, "key", None) for key, _ in pairs}
    return sorted(name for name in names if isinstance(name, str))


def _read(session: Session | None, obj: Any) -> None:
    if session is None or not session.info.get(_ENABLED):
        return
    state: InstanceState[Any] = inspect(obj)
    table, entity_id = _table(state.mapper), _entity_id(state.identity or ())
    pending = _state(session)
    if (table, entity_id) not in pending.reads:
        pending.reads.add((table, entity_id))
        pending.entries.append(Entry(current_actor(), "read", table, entity_id))


def _loaded(target: Any, context: Any) -> None:
    _read(context.session, target)


def _refreshed(target: Any, context: Any, attrs: Any) -> None:
    _read(context.session, target)


def _committing(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint: its entries go with the outermost commit
    session.flush()  # what the commit would flush, so that after_flush records it now
    pending = _state(session)
    if len(pending.entries) > pending.written:
        append(session.connection(), pending.entries[pending.written :])
        pending.written = len(pending.entries)


def _committed(session: Session) -> None:
    pending = _state(session)
    nested = session.get_nested_transaction()
    if nested is not None:
        pending.released.add(nested)
        return
    leftover, session.info[_STATE] = pending.entries[pending.written :], _Pending()
    if leftover:  # only if a listener changed the session after ours ran: late beats never
        _write_alone(session, leftover)


def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    pending = _state(session)
    if transaction.nested:
        mark = pending.savepoints.pop(transaction, None)
        if transaction not in pending.released and mark is not None:
            # Rolled back: its changes never happened; what it read was read.
            pending.entries[mark:] = [e for e in pending.entries[mark:] if e.action == "read"]
        pending.released.discard(transaction)
        return
    if transaction.parent is not None:
        return
    reads = [e for e in pending.entries if e.action == "read"]
    session.info[_STATE] = _Pending()
    if reads:  # ended without a commit (a read-only unit of work, a failure)
        _write_alone(session, reads)


def _write_alone(session: Session, entries: Sequence[Entry]) -> None:
    bind = session.get_bind()
    if isinstance(bind, Connection):  # a session joined to an outer transaction (tests)
        if bind.in_transaction():
            append(bind, entries)
            return
        with bind.begin():
            append(bind, entries)
        return
    with bind.begin() as connection:
        append(connection, entries)


# ---------------------------------------------------------------- kalite-audit


def main(argv: list[str] | None = None) -> int:
    from services.config import get_settings
    from services.db import make_engine

    parser = argparse.ArgumentParser(prog="kalite-audit", description="The audit trail of personal data")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="walk the hash chain; exit 1 at a broken link")
    check.add_argument("--batch", type=int, default=2000, help="rows fetched at a time")
    commands.add_parser("seal", help="chain the inbox now (the workers do it every second)")
    args = parser.parse_args(argv)

    engine = make_engine(get_settings().database_url)
    try:
        if args.command == "seal":
            print(f"sealed {seal_all(engine)} line(s)")  # noqa: T201 - CLI output
            return 0
        with engine.connect() as connection:
            result = verify(connection, batch=args.batch)
    finally:
        engine.dispose()
    print(f"audit_log: {result.rows} rows checked, {result.unsealed} in the inbox")  # noqa: T201
    if result.first_break is not None:
        print(  # noqa: T201
            f"BROKEN: first broken link at seq {result.first_break.seq}: {result.first_break.reason}; "
            f"{result.breaks} broken link(s) in all"
        )
        return 1
    if result.head_seq is not None:
        print(f"head: seq {result.head_seq} hash {result.head_hash}")  # noqa: T201
    print("OK")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
