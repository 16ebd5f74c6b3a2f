"""Failed tasks: what reaches the engine (and Cockpit) says in plain words what happened and
carries no personal data; retries and back-off come from the diagram's extension properties."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from aiosmtplib import SMTPAuthenticationError, SMTPConnectError, SMTPRecipientRefused
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from services.bootstrap import Container
from services.models import Notification
from workers import task_types
from workers.failures import (
    MAIL_SERVER_LOGIN_REFUSED,
    MAIL_SERVER_REFUSED,
    MAIL_SERVER_UNREACHABLE,
    failure_message,
)
from workers.main import routers
from workers.runtime import (
    DEFAULT_RETRIES,
    ExternalTask,
    Router,
    _retries_left,
    _retry_back_off_ms,
)


def _row(*, engine_retries: int | None, **properties: str) -> dict[str, Any]:
    """A task as `POST /external-task/fetchAndLock` returns it (includeExtensionProperties)."""
    return {
        "id": "5f1c2b7e-0000-4000-8000-000000000001",
        "topicName": task_types.NOTIFY_DIRECTORATE,
        "activityId": "mudurluge-bildir",
        "activityInstanceId": "mudurluge-bildir:5f1c2b7e-0000-4000-8000-000000000002",
        "processInstanceId": "5f1c2b7e-0000-4000-8000-000000000003",
        "processDefinitionKey": "birim-istek",
        "businessKey": "5f1c2b7e-0000-4000-8000-000000000004",
        "retries": engine_retries,
        "extensionProperties": properties,
        "variables": {
            "requestId": {"type": "String", "value": "5f1c2b7e-0000-4000-8000-000000000004", "valueInfo": {}},
            "institutions": {
                "type": "Json",
                "value": json.dumps([{"label": "İSKİ", "value": "iski"}], ensure_ascii=False),
                "valueInfo": {},
            },
        },
    }


def _task(*, engine_retries: int | None = None, **properties: str) -> ExternalTask:
    """`engine_retries`: the engine's count (null until a first failure); `properties`: the diagram's."""
    return ExternalTask.from_engine(_row(engine_retries=engine_retries, **properties))


# ---------------------------------------------------------------- the incident's message


def test_other_errors_show_the_technical_error_without_e_mail_addresses() -> None:
    message = failure_message(ConnectionRefusedError("recipient <ayse.yilmaz@example.com> refused"))
    assert message.startswith("ConnectionRefusedError: recipient")
    assert "ayse" not in message
    assert "<e-posta>" in message


def test_phone_numbers_are_masked() -> None:
    message = failure_message(ValueError("SMS to 0532 123 45 67 and +90 533 765 43 21 failed"))
    assert "123 45 67" not in message and "765 43 21" not in message
    assert message.count("<telefon>") == 2


def test_the_message_is_short_enough_for_an_incident() -> None:
    message = failure_message(RuntimeError("x" * 5000))
    assert len(message) == 500
    assert message.startswith("RuntimeError: xxx")

    explained = failure_message(SMTPConnectError("y" * 5000))
    assert len(explained) == 500
    assert explained.startswith(MAIL_SERVER_UNREACHABLE)


def test_an_unreachable_mail_server_is_named_in_plain_words() -> None:
    message = failure_message(SMTPConnectError("Error connecting to 127.0.0.1 on port 2525"))
    assert message.startswith(MAIL_SERVER_UNREACHABLE)
    assert message.endswith("SMTPConnectError: Error connecting to 127.0.0.1 on port 2525")
    assert "retry this incident in Cockpit" in message
    assert "Operate" not in message


def test_a_refused_login_and_a_refused_mail_are_named_in_plain_words() -> None:
    login = failure_message(SMTPAuthenticationError(535, "authentication failed"))
    assert login.startswith(MAIL_SERVER_LOGIN_REFUSED)
    assert "Retry this incident in Cockpit" in login

    refused = failure_message(SMTPRecipientRefused(550, "no such user", "ayse.yilmaz@example.com"))
    assert refused.startswith(MAIL_SERVER_REFUSED)
    assert "ayse" not in refused


def test_database_errors_show_no_values(container: Container) -> None:
    with container.uow() as uow, pytest.raises(IntegrityError) as caught:
        for _ in range(2):
            uow.session.add(
                Notification(idempotency_key="dup", recipient="ayse.yilmaz@example.com", subject="Çağrı")
            )
            uow.session.flush()
    assert "ayse" not in str(caught.value)
    assert "idempotency_key" in str(caught.value)
    assert "ayse" not in failure_message(caught.value)


# ---------------------------------------------------------------- retries and back-off


def test_a_task_from_the_engine_carries_its_properties_and_decoded_variables() -> None:
    task = _task(retries="5", userTask="talebi-degerlendir")
    assert task.activity_id == "mudurluge-bildir"
    assert task.activity_instance_id == "mudurluge-bildir:5f1c2b7e-0000-4000-8000-000000000002"
    assert task.properties["userTask"] == "talebi-degerlendir"
    assert task.retries is None
    assert task.variables["institutions"] == [{"label": "İSKİ", "value": "iski"}]


def test_the_first_delivery_takes_its_retries_from_the_diagram() -> None:
    # Until a first failure the engine holds no count (`retries` is null): the property decides.
    assert _retries_left(_task(engine_retries=None, retries="3")) == 2
    assert _retries_left(_task(engine_retries=None, retries="1")) == 0
    assert _retries_left(_task(engine_retries=None)) == DEFAULT_RETRIES - 1
    assert _retries_left(_task(engine_retries=None, retries="beş")) == DEFAULT_RETRIES - 1


def test_later_deliveries_count_down_the_engines_retries() -> None:
    # Once set, the engine's count wins over the property (which was the count at the start).
    assert _retries_left(_task(engine_retries=4, retries="5")) == 3
    assert _retries_left(_task(engine_retries=1, retries="5")) == 0
    # A task retried from Cockpit after an incident (retries set to 1) fails into an incident again.
    assert _retries_left(_task(engine_retries=1)) == 0
    assert _retries_left(_task(engine_retries=0)) == 0


def test_the_back_off_is_the_diagrams_iso_8601_duration() -> None:
    assert _retry_back_off_ms(_task()) == 10_000
    assert _retry_back_off_ms(_task(retryBackOff="PT30S")) == 30_000
    assert _retry_back_off_ms(_task(retryBackOff="PT2M")) == 120_000
    assert _retry_back_off_ms(_task(retryBackOff="PT1H30M")) == 5_400_000
    assert _retry_back_off_ms(_task(retryBackOff="PT0.5S")) == 500


# ---------------------------------------------------------------- what a handler fetches


class Aliased(BaseModel):
    request_id: uuid.UUID = Field(alias="requestId")
    note: str | None = None


class Everything(Aliased):
    model_config = ConfigDict(extra="allow")


class Nothing(BaseModel):
    pass


def test_a_subscription_fetches_the_variables_its_model_names() -> None:
    tasks = Router()

    async def handle(task: ExternalTask, v: BaseModel) -> dict[str, Any]:
        return {}

    tasks.task("a", Aliased)(handle)
    tasks.task("b", Everything)(handle)
    tasks.task("c", Nothing, lock_ms=5_000)(handle)
    aliased, everything, nothing = tasks.subscriptions
    assert aliased.variable_names == ["requestId", "note"]
    assert everything.variable_names is None  # all of them: names known only at run time
    assert nothing.variable_names == []
    assert (aliased.lock_ms, nothing.lock_ms) == (60_000, 5_000)


def test_every_handler_fetches_only_what_it_reads(container: Container) -> None:
    fetched = {s.topic: s.variable_names for router in routers(container) for s in router.subscriptions}
    assert set(fetched) == {v for k, v in vars(task_types).items() if k.isupper()}
    # Only the history step reads variables named by its `fields` property.
    assert [topic for topic, names in fetched.items() if names is None] == [task_types.RECORD_STEP]
    assert fetched[task_types.SYSTEM_CHECK_COMPLETE] == ["systemCheckId", "confirmedBy", "note"]
    assert fetched[task_types.DIF_CLOSE_ACTION] == ["action", "completionNote"]
    assert fetched[task_types.PERSONAL_DATA_ANONYMISE] == []
