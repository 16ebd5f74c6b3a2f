"""The external-task worker: long polling, typed handlers, retries that end in a readable incident.

A handler is registered on a `Router` for one topic with the pydantic model of the variables it
reads; the worker fetches just those variables, validates them and calls the handler with the
model. What the handler returns completes the task. The diagram keeps what a process owner tunes:
each external task's extension properties `retries` (default 5) and `retryBackOff` (ISO-8601,
default PT10S), and any other property the handler reads (`task.properties`).

Outcomes:
- the handler returns variables → complete;
- `BpmnError` (only for error codes the diagram models) → the diagram's error boundary;
- `InvalidInput` (a person's input a form should have refused) → BPMN error GECERSIZ_GIRDI with
  `inputError`, which sends the task back to the person;
- `MisconfiguredProcess` (a setting of the diagram is wrong) → an incident at once, in plain words;
- variables that do not match the model → an incident at once (a retry cannot fix them);
- anything else → a failure with one retry fewer after the back-off; at 0 retries the engine
  raises an incident whose message says in plain words what happened (Cockpit shows it).

Tasks are delivered at least once (a lock may expire, a worker may die after its effect), so every
handler is idempotent: it records its effect under the task's activity instance id.
SIGTERM: stop fetching, let running handlers finish for `grace_seconds`, hand back the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from services import metrics
from services.log_context import task_context
from services.operaton import ExternalTasks, plain_all
from services.personal_data import mask
from services.process_engine import EngineRefused, EngineUnavailable
from services.quality_records import InvalidInput, MisconfiguredProcess
from workers.failures import INVALID_INPUT, failure_message

log = logging.getLogger(__name__)

DEFAULT_RETRIES = 5
DEFAULT_RETRY_BACK_OFF = timedelta(seconds=10)
COMPLETION_ATTEMPTS = 5  # a completion that meets a concurrent one is made again this often
_DURATION = TypeAdapter(timedelta)  # ISO-8601 durations such as PT10S


@dataclass(frozen=True)
class ExternalTask:
    """One locked external task, engine-neutral."""

    id: str
    topic: str
    activity_id: str
    # Unique per execution of the step (the same for a redelivery of it): the idempotency key.
    activity_instance_id: str
    process_instance_id: str
    process_key: str
    business_key: str | None
    retries: int | None
    properties: Mapping[str, str]
    variables: Mapping[str, Any]

    @classmethod
    def from_engine(cls, row: Mapping[str, Any]) -> ExternalTask:
        return cls(
            id=row["id"],
            topic=row["topicName"],
            activity_id=row["activityId"],
            activity_instance_id=row["activityInstanceId"],
            process_instance_id=row["processInstanceId"],
            process_key=row.get("processDefinitionKey") or "",
            business_key=row.get("businessKey"),
            retries=row.get("retries"),
            properties=row.get("extensionProperties") or {},
            variables=plain_all(row.get("variables")),
        )


class BpmnError(Exception):
    """A business outcome the diagram models with an error boundary event of this code."""

    def __init__(self, code: str, message: str, variables: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.variables = dict(variables or {})


M = TypeVar("M", bound=BaseModel)
Handler = Callable[[ExternalTask, M], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class Subscription:
    topic: str
    model: type[BaseModel]
    handler: Callable[[ExternalTask, Any], Awaitable[Mapping[str, Any]]]
    lock_ms: int

    @property
    def variable_names(self) -> list[str] | None:
        """The variables to fetch: the model's (by alias); all of them for a model that allows extras."""
        if self.model.model_config.get("extra") == "allow":
            return None
        return [field.alias or name for name, field in self.model.model_fields.items()]


class Router:
    """The handlers of one process, each bound to a topic."""

    def __init__(self) -> None:
        self.subscriptions: list[Subscription] = []

    def task(
        self, topic: str, variables: type[M], *, lock_ms: int = 60_000
    ) -> Callable[[Handler[M]], Handler[M]]:
        def register(handler: Handler[M]) -> Handler[M]:
            self.subscriptions.append(Subscription(topic, variables, handler, lock_ms))
            return handler

        return register


def _retry_back_off_ms(task: ExternalTask) -> int:
    text = task.properties.get("retryBackOff")
    if not text:
        return int(DEFAULT_RETRY_BACK_OFF.total_seconds() * 1000)
    return int(_DURATION.validate_python(text).total_seconds() * 1000)


def _retries_left(task: ExternalTask) -> int:
    """Retries after this failure: the engine's count once set, else the diagram's `retries`."""
    if task.retries is not None:
        return max(task.retries - 1, 0)
    try:
        configured = int(task.properties.get("retries", DEFAULT_RETRIES))
    except ValueError:
        configured = DEFAULT_RETRIES
    return max(configured - 1, 0)


class Worker:
    def __init__(
        self,
        client: ExternalTasks,
        routers: list[Router],
        *,
        max_tasks: int = 16,
        grace_seconds: float = 25.0,
    ) -> None:
        self._client = client
        self._by_topic = {s.topic: s for r in routers for s in r.subscriptions}
        self._max_tasks = max_tasks
        self._grace = grace_seconds
        self._running: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()
        # For the health listener (workers/monitoring.py): when the fetch loop last went round,
        # and whether the last long poll reached the engine (None: none answered yet).
        self.last_progress = time.monotonic()
        self.engine_ok: bool | None = None
        self.engine_detail = "not polled yet"

    @property
    def topics(self) -> list[str]:
        return sorted(self._by_topic)

    async def work(self) -> None:
        """Poll until `stop()`; back off while the engine does not answer."""
        delay = 0.0
        while not self._stopping.is_set():
            self.last_progress = time.monotonic()
            free = self._max_tasks - len(self._running)
            if free <= 0:
                await asyncio.sleep(0.05)
                continue
            poll = asyncio.ensure_future(
                self._client.fetch_and_lock(
                    [
                        {"topicName": s.topic, "lockDuration": s.lock_ms, "variables": s.variable_names}
                        for s in self._by_topic.values()
                    ],
                    max_tasks=free,
                )
            )
            stopping = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({poll, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not poll.done():
                await self._hand_back_late_poll(poll)
                break
            try:
                rows = poll.result()
                delay = 0.0
                self.engine_ok, self.engine_detail = True, "ok"
            except (EngineUnavailable, EngineRefused) as error:
                self.engine_ok, self.engine_detail = False, type(error).__name__
                delay = min(max(delay * 2, 0.5), 10.0)
                log.warning("fetching tasks failed (%s); again in %.1f s", error, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                continue
            for row in rows:
                task = ExternalTask.from_engine(row)
                metrics.TASKS_FETCHED.labels(task.topic).inc()
                self._start(task)

    async def _hand_back_late_poll(self, poll: asyncio.Future[list[dict[str, Any]]]) -> None:
        """Stopping while a long poll is open: the engine may still lock tasks for it, so wait for
        its answer (at most the poll's timeout) and hand back what it locked, instead of leaving
        those tasks locked to a worker that is gone."""
        try:
            rows = await asyncio.wait_for(poll, timeout=self._client.poll_timeout_ms / 1000 + 5)
        except (TimeoutError, EngineUnavailable, EngineRefused):
            return
        for row in rows:
            with contextlib.suppress(EngineUnavailable, EngineRefused):
                await self._client.unlock(row["id"])
            log.info("task %s handed back to the engine", row["id"])

    def _start(self, task: ExternalTask) -> None:
        handling = asyncio.create_task(self._handle(task))
        self._running[task.id] = handling
        handling.add_done_callback(lambda _: self._running.pop(task.id, None))

    async def stop(self) -> None:
        """Stop fetching; running handlers get `grace_seconds`, then their tasks are handed back."""
        self._stopping.set()
        running = dict(self._running)
        if not running:
            return
        log.info("waiting for %d running task(s)", len(running))
        _, pending = await asyncio.wait(running.values(), timeout=self._grace)
        for task_id, handling in running.items():
            if handling in pending:
                handling.cancel()
                with contextlib.suppress(Exception):
                    await self._client.unlock(task_id)
                log.info("task %s handed back to the engine", task_id)

    async def _handle(self, task: ExternalTask) -> None:
        subscription = self._by_topic[task.topic]
        with task_context(task.id, task.process_instance_id, task.topic):
            keep_locked = asyncio.create_task(self._keep_locked(task, subscription.lock_ms))
            started = time.perf_counter()
            try:
                await self._outcome(task, subscription)
            finally:
                keep_locked.cancel()
                metrics.HANDLER_DURATION.labels(task.topic).observe(time.perf_counter() - started)

    async def _keep_locked(self, task: ExternalTask, lock_ms: int) -> None:
        """Long work keeps its lock: extend it at half its duration while the handler runs."""
        while True:
            await asyncio.sleep(lock_ms / 2000)
            try:
                await self._client.extend_lock(task.id, lock_ms)
            except (EngineUnavailable, EngineRefused) as error:
                log.warning("could not extend the lock of task %s: %s", task.id, error)

    async def _outcome(self, task: ExternalTask, subscription: Subscription) -> None:
        try:
            variables = subscription.model.model_validate(dict(task.variables))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'değişkenler'}: {e['msg']}" for e in error.errors()
            )
            await self._fail(
                task,
                self._client.failure(
                    task.id,
                    message=f"The step's process variables are missing or malformed: {problems}"[:500],
                    details=failure_message(error),
                    retries=0,
                    retry_timeout_ms=0,
                ),
                retries=0,
            )
            return
        try:
            result = await subscription.handler(task, variables)
        except asyncio.CancelledError:
            raise
        except BpmnError as error:
            log.info("task %s raised BPMN error %s", task.id, error.code)
            if await self._report(
                task, self._client.bpmn_error(task.id, error.code, str(error), error.variables)
            ):
                metrics.TASKS_BPMN_ERRORS.labels(task.topic).inc()
        except InvalidInput as error:
            log.info("task %s: input refused, back to the person", task.id)
            if await self._report(
                task, self._client.bpmn_error(task.id, INVALID_INPUT, str(error), {"inputError": str(error)})
            ):
                metrics.TASKS_BPMN_ERRORS.labels(task.topic).inc()
        except MisconfiguredProcess as error:
            # No retry can fix a wrong setting: an incident at once, saying which setting.
            log.warning("task %s: the process is misconfigured", task.id)
            await self._fail(
                task,
                self._client.failure(
                    task.id,
                    message=mask(str(error))[:500],
                    details=mask("".join(traceback.format_exception(error)))[-4000:],
                    retries=0,
                    retry_timeout_ms=0,
                ),
                retries=0,
            )
        except Exception as error:
            retries = _retries_left(task)
            log.warning("task %s failed (%d retries left): %s", task.id, retries, type(error).__name__)
            await self._fail(
                task,
                self._client.failure(
                    task.id,
                    message=failure_message(error),
                    details=mask("".join(traceback.format_exception(error)))[-4000:],
                    retries=retries,
                    retry_timeout_ms=_retry_back_off_ms(task),
                ),
                retries=retries,
            )
        else:
            try:
                await self._complete(task, result)
            except EngineRefused as error:
                if error.status != 500:
                    log.info("task %s no longer ours (%s): dropped", task.id, error)
                    return
                # The engine refused what follows the step (an expression or a gateway of the
                # diagram failed) and rolled back: make it an incident a person sees in Cockpit.
                await self._fail(
                    task,
                    self._client.failure(
                        task.id,
                        message=mask(f"The engine refused this step's result: {error.message}")[:500],
                        details=mask(error.message),
                        retries=0,
                        retry_timeout_ms=0,
                    ),
                    retries=0,
                )
            except EngineUnavailable as error:
                log.warning(
                    "task %s: completion not delivered (%s); it will be delivered again", task.id, error
                )
            else:
                metrics.TASKS_COMPLETED.labels(task.topic).inc()
                log.info("task %s (%s) completed", task.id, task.topic)

    async def _complete(self, task: ExternalTask, result: Mapping[str, Any]) -> None:
        """Complete the task; a completion that met a parallel branch's at the same moment
        (OptimisticLockingException: nothing was kept) is made again after a short pause."""
        for attempt in range(COMPLETION_ATTEMPTS):
            try:
                await self._client.complete(task.id, result)
                return
            except EngineRefused as error:
                if not error.concurrent or attempt == COMPLETION_ATTEMPTS - 1:
                    raise
                log.info("task %s: completion met a concurrent one; again", task.id)
                await asyncio.sleep(0.1 * (attempt + 1) + random.random() * 0.1)  # noqa: S311 - jitter

    async def _report(self, task: ExternalTask, call: Awaitable[None]) -> bool:
        """Send the outcome (True when delivered); a task gone meanwhile (cancelled by a boundary
        event, its lock taken over) is dropped, and an engine away means a redelivery later
        (handlers are idempotent)."""
        try:
            await call
        except EngineRefused as error:
            log.info("task %s no longer ours (%s): dropped", task.id, error)
        except EngineUnavailable as error:
            log.warning("task %s: outcome not delivered (%s); it will be delivered again", task.id, error)
        else:
            return True
        return False

    async def _fail(self, task: ExternalTask, call: Awaitable[None], *, retries: int) -> None:
        """Report a failure; with no retries left the engine raises an incident."""
        if await self._report(task, call):
            metrics.TASKS_FAILED.labels(task.topic).inc()
            if retries == 0:
                metrics.INCIDENTS.labels(task.topic).inc()
