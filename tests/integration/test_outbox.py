"""An accepted request starts exactly one process instance, even when dispatch is repeated."""

import time

import httpx
from sqlalchemy import create_engine, text

from services.config import get_settings
from tests.integration.camunda_web import CamundaWeb, instances_with_variable, poll


def test_dispatching_the_same_outbox_row_twice_starts_one_instance(
    api: httpx.Client, camunda: CamundaWeb
) -> None:
    check_id = api.post("/system-checks", json={"requestedBy": "outbox-test"}).json()["id"]
    poll(
        lambda: instances_with_variable(camunda, "systemCheckId", check_id) or None,
        what="the instance of the system check",
    )
    # Simulate a dispatcher that published the message but crashed before recording it.
    engine = create_engine(get_settings().database_url)
    with engine.begin() as connection:
        reset = connection.execute(
            text("UPDATE outbox SET dispatched_at = NULL WHERE correlation_key = :id RETURNING id"),
            {"id": check_id},
        ).all()
    assert len(reset) == 1

    def dispatched_again() -> object:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT dispatched_at FROM outbox WHERE correlation_key = :id"), {"id": check_id}
            ).scalar()

    poll(dispatched_again, what="the row to be dispatched again")
    engine.dispose()
    time.sleep(3)  # time for a second instance to be exported, if one had been created
    assert len(instances_with_variable(camunda, "systemCheckId", check_id)) == 1
