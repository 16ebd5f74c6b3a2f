"""An accepted request survives the engine being down: intake answers, and the instance starts
exactly once when the engine is back."""

from typing import Any

import httpx
from sqlalchemy import create_engine, text

from deploy.local import processes, stack
from services.config import get_settings
from services.operaton import Operaton
from tests.integration.citizen import instance_of, request_row, submit, wait_status
from tests.integration.tasklist import instances_with_variable, poll


def _outbox_row(request_id: str) -> dict[str, Any] | None:
    """The outbox's start of this request: attempts made, and whether it reached the engine."""
    database = create_engine(get_settings().database_url)
    try:
        with database.connect() as connection:
            row = (
                connection.execute(
                    text(
                        "SELECT attempts, dispatched_at, last_error FROM outbox "
                        "WHERE correlation_key = :k AND starts_process"
                    ),
                    {"k": request_id},
                )
                .mappings()
                .first()
            )
            return dict(row) if row else None
    finally:
        database.dispose()


def test_intake_with_the_engine_stopped_starts_the_instance_once_it_is_back(api: httpx.Client) -> None:
    layout = stack.Layout.from_env()
    assert processes.stop(layout.dirs, "engine", timeout=90), "the test needs the local engine"
    try:
        tracking, _ = submit(api, channel="cagri-merkezi", categoryCode="ZABITA-ISGAL")
        row = request_row(tracking)
        assert row is not None and row["status"] == "alindi" and row["process_instance_id"] is None
        request_id = str(row["id"])
        # The outbox tries to start it and fails while the engine is away; the request waits.
        poll(
            lambda: r if (r := _outbox_row(request_id)) and r["last_error"] else None,
            what="the outbox's failed attempt while the engine is down",
        )
        row = request_row(tracking)
        assert row is not None and row["status"] == "alindi" and row["process_instance_id"] is None
        assert api.get("/health").json()["checks"]["engine"] != "ok"
    finally:
        stack.start_engine(layout)
    instance_of(tracking, timeout=120)
    wait_status(tracking, "mudurlukte", timeout=120)
    settings = get_settings()
    with Operaton(settings.engine_rest_url, settings.engine_username, settings.engine_password) as engine:
        poll(lambda: instances_with_variable(engine, "requestId", request_id) or None, what="the instance")
        # The start reached the engine once and the outbox has nothing left for this request.
        outbox = poll(
            lambda: r if (r := _outbox_row(request_id)) and r["dispatched_at"] else None,
            what="the outbox row to be dispatched",
        )
        assert outbox["attempts"] >= 2  # failed while the engine was down, then sent
        assert len(instances_with_variable(engine, "requestId", request_id)) == 1
