"""How the engine adapter reads the REST API's refusals: its own error document is the engine's
answer (a concurrent update among them, which may simply be sent again), a bare 5xx page means
the engine could not work at all."""

from __future__ import annotations

import httpx

from services.operaton import _refusal
from services.process_engine import EngineRefused, EngineUnavailable

CONCURRENT = {
    "type": "OptimisticLockingException",
    "message": "ENGINE-03005 Execution of 'UPDATE VariableInstanceEntity[…]' failed. "
    "Entity was updated by another transaction concurrently.",
}


def test_a_concurrent_update_is_a_refusal_that_may_be_sent_again() -> None:
    refused = _refusal(httpx.Response(500, json=CONCURRENT), "/external-task/1/complete")
    assert isinstance(refused, EngineRefused)
    assert refused.status == 500 and refused.concurrent
    assert "updated by another transaction" in refused.message


def test_other_refusals_are_not_taken_for_concurrency() -> None:
    failed_expression = _refusal(
        httpx.Response(500, json={"type": "ProcessEngineException", "message": "Unknown property used"}),
        "/external-task/1/complete",
    )
    gone = _refusal(httpx.Response(404, json={"type": "RestException", "message": "no task"}), "/x")
    assert isinstance(failed_expression, EngineRefused) and not failed_expression.concurrent
    assert isinstance(gone, EngineRefused) and gone.status == 404 and not gone.concurrent


def test_a_bare_server_error_page_means_the_engine_is_unavailable() -> None:
    page = _refusal(httpx.Response(503, text="<html>Service Unavailable</html>"), "/engine")
    assert isinstance(page, EngineUnavailable)


def test_the_engines_database_failing_under_a_call_means_the_engine_is_unavailable() -> None:
    """Seen in `make fault` while PostgreSQL restarted: the REST API's own document, but the
    cause is the database going away under the call, not the call."""
    cut = _refusal(
        httpx.Response(
            500,
            json={
                "type": "ProcessEngineException",
                "message": "An exception occurred in the persistence layer. Please check the server logs "
                "for a detailed message and the entire exception stack trace.",
            },
        ),
        "/external-task/1/complete",
    )
    assert isinstance(cut, EngineUnavailable) and cut.maybe_processed
