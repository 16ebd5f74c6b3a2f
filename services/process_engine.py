"""The engine port: what the product needs of its BPMN engine, in engine-neutral terms.

Domain modules and the API depend on this interface only; the composition root
(`services.bootstrap`) builds the adapter (`services.operaton.Operaton`) and hands it out.
Identifiers are strings as the engine gives them (process instance ids, activity instance ids);
nothing here names an engine client library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class EngineUnavailable(Exception):
    """The engine did not answer (down, restarting, or the network): try again later.

    `maybe_processed`: the request may have reached the engine (the answer was lost), so its
    effect may exist; false when it surely never arrived (connection refused)."""

    def __init__(self, message: str, *, maybe_processed: bool) -> None:
        super().__init__(message)
        self.maybe_processed = maybe_processed


class EngineRefused(Exception):
    """The engine answered and refused the call (4xx/5xx with its own message)."""

    def __init__(self, status: int, message: str, kind: str = "") -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.kind = kind  # the engine's exception type, e.g. OptimisticLockingException

    @property
    def concurrent(self) -> bool:
        """Another transaction changed the same instance first (parallel branches completing at
        once); the engine rolled everything back, so the same call may simply be made again."""
        return self.kind == "OptimisticLockingException"


@dataclass(frozen=True)
class HumanTask:
    """A user task as Tasklist shows it."""

    id: str
    name: str
    activity_id: str
    process_instance_id: str
    process_definition_id: str
    business_key: str | None
    assignee: str | None
    created: str
    due: str | None = None
    follow_up: str | None = None
    priority: int = 50
    form_key: str | None = None


class ProcessEngine(Protocol):
    """Synchronous calls; async code runs them in a thread (they are short HTTP calls)."""

    def reachable(self) -> tuple[bool, str]: ...

    def deploy(self, name: str, files: Sequence[Path], *, source: str) -> str: ...

    def start_by_message(
        self, message: str, *, business_key: str, variables: Mapping[str, Any], start_id: str
    ) -> str:
        """Start an instance with this message; `start_id` is recorded on it (`startedBy`) so
        that `started_instance` can tell afterwards whether the start took place."""
        ...

    def started_instance(self, start_id: str) -> str | None:
        """The instance a `start_by_message` with this start id created, running or ended."""
        ...

    def correlate(self, message: str, *, business_key: str, variables: Mapping[str, Any]) -> bool:
        """Deliver a message to the waiting instance with this business key; False when none waits."""
        ...

    def set_variables(self, process_instance_id: str, variables: Mapping[str, Any]) -> None: ...

    def who_completed(self, process_instance_id: str, activity_id: str) -> str | None:
        """The person who completed the latest task of this step (from the engine's history)."""
        ...

    def close(self) -> None: ...
