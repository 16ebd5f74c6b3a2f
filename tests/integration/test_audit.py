"""The audit trail on the test database: reads and changes of personal data and quality records are
recorded with their actor and without personal values, the chain stays linear under concurrent
writers, the table refuses UPDATE/DELETE/TRUNCATE, and a tampered line is found by `kalite-audit`.

Only PostgreSQL is needed (the local stack's), not the engine: `stack` is narrowed here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from services import audit, catalogue, difs, nonconformities
from services import citizen_requests as requests
from services.bootstrap import Container
from services.models import (
    AuditEntry,
    CitizenContact,
    CitizenReply,
    CitizenRequest,
    Dif,
    Finding,
    Nonconformity,
)
from tests.conftest import REPO
from tests.integration.conftest import TEST_DATABASE_URL


@pytest.fixture(scope="session")
def stack() -> None:
    """PostgreSQL of the local stack (`make up`), nothing else."""
    engine = create_engine(TEST_DATABASE_URL.rsplit("/", 1)[0] + "/postgres")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def _values() -> dict[str, str]:
    """A citizen's personal data, unique to the test, so that no other row can contain it."""
    tag = uuid.uuid4().hex[:10]
    return {
        "full_name": f"Gülşen Denetimoğlu {tag}",
        "phone": f"+90532{int(tag[:7], 16) % 10_000_000:07d}",
        "email": f"gulsen.{tag}@vatandas.local",
        "address": f"Yenişehir Mah. {tag} Sk. No:4, Mersin",
    }


def _submit(container: Container, personal: dict[str, str]) -> uuid.UUID:
    request, created = requests.submit(
        container.uow,
        requests.Intake(
            channel="web",
            channel_reference=f"AUDIT-{uuid.uuid4()}",
            request_type="sikayet",
            category_code=None,
            description="Parktaki oyun alanının salıncağı kırık.",
            latitude=None,
            longitude=None,
            contact=requests.Contact(
                full_name=personal["full_name"],
                phone=personal["phone"],
                email=personal["email"],
                address=personal["address"],
                preferred_channel="email",
            ),
        ),
    )
    assert created
    return request.id


def _trail(container: Container, entity: str, entity_id: object) -> list[dict[str, Any]]:
    audit.seal_all(container.engine)  # what the workers' sealer does every second
    with container.engine.connect() as connection:
        return [
            dict(r)
            for r in connection.execute(
                text(
                    "SELECT seq, actor, action, detail FROM audit_log "
                    "WHERE entity = :e AND entity_id = :i ORDER BY seq"
                ),
                {"e": entity, "i": str(entity_id)},
            ).mappings()
        ]


def _verify(container: Container) -> audit.Verification:
    audit.seal_all(container.engine)
    with container.engine.connect() as connection:
        return audit.verify(connection)


def _containing(container: Container, value: str) -> int:
    """Lines of the whole trail whose text (any column) contains the value."""
    audit.seal_all(container.engine)
    with container.engine.connect() as connection:
        found = connection.scalar(
            text("SELECT count(*) FROM audit_log a WHERE strpos(lower(a::text), lower(:v)) > 0"), {"v": value}
        )
    return int(found or 0)


# ---------------------------------------------------------------- personal data


def test_a_contact_changed_and_read_is_recorded_by_actor_without_its_values(container: Container) -> None:
    personal = _values()
    with audit.acting_as("kanal:audit-web"):
        request_id = _submit(container, personal)
    new_phone, new_email = "+905559998877", f"yeni.{uuid.uuid4().hex[:8]}@vatandas.local"
    with audit.acting_as("operator.ayse"), container.uow() as uow:
        contact = uow.session.get(CitizenContact, request_id)
        assert contact is not None and contact.full_name == personal["full_name"]
        contact.phone, contact.email = new_phone, new_email
        contact.address = contact.address  # the same value: no change, nothing to record
        uow.commit()

    trail = _trail(container, "citizen_contacts", request_id)
    assert [(t["actor"], t["action"]) for t in trail] == [
        ("kanal:audit-web", "insert"),
        ("operator.ayse", "read"),
        ("operator.ayse", "update"),
    ]
    assert trail[0]["detail"] == {
        "columns": [
            "address",
            "email",
            "full_name",
            "phone",
            "preferred_channel",
            "request_id",
            "wants_updates",
        ]
    }
    assert trail[2]["detail"] == {"columns": ["email", "phone"]}
    request_trail = _trail(container, "citizen_requests", request_id)
    assert [(t["actor"], t["action"]) for t in request_trail] == [("kanal:audit-web", "insert")]
    assert request_trail[0]["detail"]["values"] == {"status": "alindi"}
    for value in (*personal.values(), new_phone, new_email):
        assert _containing(container, value) == 0, value


def test_a_read_in_a_unit_of_work_that_never_commits_is_recorded_once(container: Container) -> None:
    request_id = _submit(container, _values())
    with audit.acting_as("worker:mudurluge-bildir"), container.uow() as uow:
        uow.session.get(CitizenContact, request_id)
        uow.session.expunge_all()
        uow.session.scalars(select(CitizenContact).where(CitizenContact.request_id == request_id)).one()
    with pytest.raises(RuntimeError), audit.acting_as("kalite.muduru"), container.uow() as uow:
        uow.session.get(CitizenContact, request_id)
        uow.session.get(CitizenRequest, request_id).status = "yarim-kalan"  # type: ignore[union-attr]
        uow.session.flush()
        raise RuntimeError("the work failed after reading")

    trail = _trail(container, "citizen_contacts", request_id)
    assert [(t["actor"], t["action"]) for t in trail[1:]] == [
        ("worker:mudurluge-bildir", "read"),
        ("kalite.muduru", "read"),
    ]
    # The change that rolled back is not in the trail; the read before it is.
    assert [t["action"] for t in _trail(container, "citizen_requests", request_id)] == ["insert"]
    with container.uow() as uow:
        assert uow.session.get(CitizenRequest, request_id).status == "alindi"  # type: ignore[union-attr]


def test_a_savepoint_rolled_back_takes_its_changes_out_of_the_trail_not_its_reads(
    container: Container,
) -> None:
    request_id = _submit(container, _values())
    with audit.acting_as("operator.ali"), container.uow() as uow:
        savepoint = uow.session.begin_nested()
        contact = uow.session.get(CitizenContact, request_id)
        assert contact is not None
        contact.address = "Geri alınacak adres"
        uow.session.flush()
        savepoint.rollback()
        request = uow.session.get(CitizenRequest, request_id)
        assert request is not None
        request.status = "yonlendirildi"
        uow.commit()
    assert [t["action"] for t in _trail(container, "citizen_contacts", request_id)] == ["insert", "read"]
    assert [t["action"] for t in _trail(container, "citizen_requests", request_id)] == ["insert", "update"]


def test_bulk_statements_are_recorded_row_by_row_or_refused(container: Container) -> None:
    request_id = _submit(container, _values())
    with audit.acting_as("test:toplu"), container.uow() as uow:
        uow.session.execute(
            update(CitizenRequest)
            .where(CitizenRequest.id == request_id)
            .values(closed_at=datetime.now(UTC), status="kapatildi")
        )
        uow.commit()
    bulk = _trail(container, "citizen_requests", request_id)[-1]
    assert (bulk["actor"], bulk["action"]) == ("test:toplu", "update")
    assert bulk["detail"] == {"bulk": True, "columns": ["closed_at", "status"]}
    with pytest.raises(audit.AuditError), container.uow() as uow:
        uow.session.execute(insert(CitizenReply).values(id=uuid.uuid4(), request_id=request_id, text="x"))


# ---------------------------------------------------------------- quality records


def _nonconformity(container: Container) -> Nonconformity:
    catalogue.load_seed_if_empty(container.uow)
    row, created = nonconformities.report(
        container.uow,
        nonconformities.NewNonconformity(
            directorate_code="TEMIZLIK",
            description="Pazar yerinde çöpler iki gündür toplanmadı.",
            source="denetim",
            found_by="denetci.ayşe",
            reference=f"AUDIT-{uuid.uuid4()}",
        ),
    )
    assert created
    return row


def test_quality_records_changed_and_deleted_are_recorded_with_their_status(container: Container) -> None:
    with audit.acting_as("denetci.ayse"):
        nc = _nonconformity(container)
    with audit.acting_as("worker:uygunsuzluk-kaydet"):
        nonconformities.record(
            container.uow,
            nonconformity_id=nc.id,
            request_id=None,
            process_instance_id=str(uuid.uuid4()),
        )
    with audit.acting_as("worker:bulgu-ve-dif-ac"):
        dif = nonconformities.open_finding(container.uow, nonconformity_id=nc.id)
    due = (datetime.now(UTC) + timedelta(days=5)).date().isoformat()
    with audit.acting_as("worker:dif-planla"):
        actions = difs.record_plan(
            container.uow,
            dif_id=dif.id,
            root_cause="Toplama rotası pazar gününü kapsamıyor.",
            actions=[
                {
                    "description": "Pazar rotası eklensin.",
                    "responsible": "ali",
                    "responsibleEmail": "ali@belediye.local",
                    "dueDate": due,
                }
            ],
            actor="mudur.temizlik",
        )

    nc_trail = _trail(container, "nonconformities", nc.id)
    assert [(t["actor"], t["action"]) for t in nc_trail] == [
        ("denetci.ayse", "insert"),
        ("worker:uygunsuzluk-kaydet", "update"),
        ("worker:bulgu-ve-dif-ac", "update"),
    ]
    assert nc_trail[0]["detail"]["values"] == {"directorate_code": "TEMIZLIK", "status": nc.status}
    dif_trail = _trail(container, "difs", dif.id)
    assert [(t["actor"], t["action"]) for t in dif_trail] == [
        ("worker:bulgu-ve-dif-ac", "insert"),
        ("worker:dif-planla", "update"),
    ]
    assert "root_cause" in dif_trail[1]["detail"]["columns"]
    assert "values" in dif_trail[1]["detail"] and "status" in dif_trail[1]["detail"]["values"]
    assert _containing(container, "Toplama rotası pazar") == 0
    assert _containing(container, "Pazar yerinde çöpler") == 0

    # After its retention the chain may go (bulk DELETEs): every row of it is in the trail.
    past = datetime.now(UTC) - timedelta(days=1)
    with container.uow() as uow:
        for statement in (
            update(Nonconformity).where(Nonconformity.id == nc.id),
            update(Finding).where(Finding.id == dif.finding_id),
            update(Dif).where(Dif.id == dif.id),
        ):
            uow.session.execute(statement.values(retention_until=past))
        uow.commit()
    with audit.acting_as("eys.yonetici"):
        difs.delete_records(container.uow, dif_id=dif.id)
    for entity, row_id in (("nonconformities", nc.id), ("findings", dif.finding_id), ("difs", dif.id)):
        last = _trail(container, entity, row_id)[-1]
        assert (last["actor"], last["action"], last["detail"]) == ("eys.yonetici", "delete", {"bulk": True})
    action_trail = _trail(container, "dif_actions", actions[0].id)
    assert [(t["actor"], t["action"]) for t in action_trail] == [
        ("worker:dif-planla", "insert"),
        ("eys.yonetici", "delete"),
    ]


# ---------------------------------------------------------------- the chain


def test_concurrent_writers_leave_one_linear_chain(container: Container) -> None:
    errors: list[BaseException] = []
    written: dict[str, list[uuid.UUID]] = {}

    def writer(name: str) -> None:
        try:
            with audit.acting_as(name):
                ids = written[name] = []
                for _ in range(8):
                    request_id = _submit(container, _values())
                    with container.uow() as uow:  # a read that does not commit
                        uow.session.get(CitizenContact, request_id)
                    ids.append(request_id)
        except BaseException as error:  # reported by the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(f"test:yazar-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for name, ids in written.items():
        for request_id in ids:
            trail = _trail(container, "citizen_contacts", request_id)
            assert [(t["actor"], t["action"]) for t in trail] == [(name, "insert"), (name, "read")]
    result = _verify(container)
    assert result.ok, result.first_break
    assert result.head_seq == result.rows  # 1, 2, …, n: no gap, no fork


def test_lines_wait_unchangeable_in_the_inbox_until_the_sealer_chains_them(container: Container) -> None:
    audit.seal_all(container.engine)
    request_id = _submit(container, _values())
    with container.engine.connect() as connection:
        assert audit.verify(connection).unsealed >= 3  # the request, its contact, its history
        waiting = connection.scalar(
            text("SELECT count(*) FROM audit_inbox WHERE entity_id = :i"), {"i": str(request_id)}
        )
        chained = connection.scalar(
            text("SELECT count(*) FROM audit_log WHERE entity_id = :i"), {"i": str(request_id)}
        )
    assert waiting and waiting >= 2
    assert chained == 0  # nothing chained yet…
    with pytest.raises(DBAPIError, match="not changed"), container.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_inbox SET actor = 'biri' WHERE entity_id = :i"), {"i": str(request_id)}
        )
    run = _kalite_audit("seal")
    assert run.returncode == 0 and "sealed" in run.stdout, run.stdout + run.stderr
    with container.engine.connect() as connection:
        assert audit.verify(connection).unsealed == 0
    assert [t["action"] for t in _trail(container, "citizen_requests", request_id)] == ["insert"]


def test_the_table_refuses_update_delete_and_truncate(container: Container) -> None:
    _submit(container, _values())
    for statement in (
        "UPDATE audit_log SET actor = 'biri' WHERE seq = (SELECT max(seq) FROM audit_log)",
        "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(DBAPIError, match="append-only"), container.engine.begin() as connection:
            connection.execute(text(statement))


@pytest.fixture()
def tampered(container: Container) -> Iterator[int]:
    """One line of the trail changed by the table's owner behind the trigger's back, put back after."""
    request_id = _submit(container, _values())
    seq = _trail(container, "citizen_contacts", request_id)[0]["seq"]
    assert _verify(container).ok, "the chain was broken before the test"
    with container.engine.begin() as connection:
        original = connection.scalar(text("SELECT detail::text FROM audit_log WHERE seq = :s"), {"s": seq})
        _behind_the_trigger(connection, "UPDATE audit_log SET detail = '{}'::jsonb WHERE seq = :s", s=seq)
    try:
        yield seq
    finally:
        with container.engine.begin() as connection:
            _behind_the_trigger(
                connection,
                "UPDATE audit_log SET detail = CAST(:d AS jsonb) WHERE seq = :s",
                d=original,
                s=seq,
            )


def _behind_the_trigger(connection: Any, statement: str, **params: Any) -> None:
    connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    connection.execute(text(statement), params)
    connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def _kalite_audit(*args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("kalite-audit")
    return subprocess.run(
        [str(command), *args],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": TEST_DATABASE_URL},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_tampered_line_is_reported_as_the_first_broken_link(container: Container, tampered: int) -> None:
    result = _verify(container)
    assert result.first_break is not None
    assert result.first_break.seq == tampered
    assert result.first_break.reason.startswith("hash mismatch")
    assert result.breaks == 1  # the next line still links to the stored hash

    run = _kalite_audit("verify")
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"first broken link at seq {tampered}: hash mismatch" in run.stdout
    assert "rows checked" in run.stdout


def test_a_removed_line_is_reported_at_the_next_one(container: Container) -> None:
    request_id = _submit(container, _values())
    seq = _trail(container, "citizen_contacts", request_id)[0]["seq"]  # the request's history follows
    assert _verify(container).ok, "the chain was broken before the test"
    with container.engine.begin() as connection:
        line = connection.execute(text("SELECT * FROM audit_log WHERE seq = :s"), {"s": seq}).mappings().one()
        _behind_the_trigger(connection, "DELETE FROM audit_log WHERE seq = :s", s=seq)
    try:
        result = _verify(container)
        assert result.first_break is not None and result.first_break.seq == seq + 1
        assert f"gap in seq: expected {seq}, found {seq + 1}" in result.first_break.reason
        assert "prev_hash mismatch" in result.first_break.reason
    finally:
        with container.engine.begin() as connection:
            connection.execute(insert(AuditEntry), [dict(line)])
    assert _verify(container).ok


def test_kalite_audit_verify_says_ok_for_an_intact_chain(container: Container) -> None:
    _submit(container, _values())
    run = _kalite_audit("verify")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("OK")
