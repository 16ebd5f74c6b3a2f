"""The product's Prometheus metrics (prometheus-client, default registry), one place for all.

Every process exposes its own: the API's on GET /metrics, the workers' on their HTTP listener.
Labels are bounded sets only — route templates, HTTP methods and status codes, channels, topics,
media — never a tracking number, an id, a name, a phone or an address.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from services.models import OutboxMessage

log = logging.getLogger(__name__)

# The intake channels (services/api/requests.Channel, the citizen page's "web", Open311's); anything
# else is counted as "other" so that a new caller cannot grow the label set.
CHANNELS = frozenset(
    {"cagri-merkezi", "web", "mobil", "eposta", "cimer", "sosyal-medya", "yuz-yuze", "open311"}
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# API
HTTP_REQUESTS = Counter(
    "kalite_http_requests",
    "HTTP requests answered by the API, by method, route template and status code",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "kalite_http_request_duration_seconds",
    "Time the API took to answer, by route template",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
INTAKE = Counter(
    "kalite_intake_requests",
    "Citizen requests received at intake, by channel; outcome created (new) or repeated (the "
    "channel sent the same reference again)",
    ["channel", "outcome"],
)

# Workers
TASKS_FETCHED = Counter("kalite_external_tasks_fetched", "External tasks fetched and locked", ["topic"])
TASKS_COMPLETED = Counter("kalite_external_tasks_completed", "External tasks completed", ["topic"])
TASKS_BPMN_ERRORS = Counter(
    "kalite_external_tasks_bpmn_errors",
    "External tasks ended with a BPMN error the diagram models (a business outcome, not a fault)",
    ["topic"],
)
TASKS_FAILED = Counter(
    "kalite_external_tasks_failed",
    "External tasks reported as failed to the engine (retried later, or an incident)",
    ["topic"],
)
INCIDENTS = Counter(
    "kalite_incidents_raised",
    "Failures reported with no retries left: the engine raises an incident a person must resolve",
    ["topic"],
)
HANDLER_DURATION = Histogram(
    "kalite_external_task_duration_seconds",
    "Time a handler took for one external task, by topic",
    ["topic"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
OUTBOX_DISPATCHED = Counter(
    "kalite_outbox_dispatched", "Outbox messages delivered to the engine (process starts and messages)"
)
OUTBOX_FAILED = Counter(
    "kalite_outbox_failed", "Outbox delivery attempts that failed (tried again in a later round)"
)
NOTIFICATIONS_SENT = Counter(
    "kalite_notifications_sent",
    "Mails and SMS handed to the server (mail: SMTP, sms: the SMS centre)",
    ["medium"],
)


def channel_label(channel: str) -> str:
    return channel if channel in CHANNELS else "other"


class OutboxBacklog:
    """Unsent outbox rows and the age of the oldest, read with one query when scraped (the
    partial scan uses the index on dispatched_at). A database that does not answer gives
    kalite_outbox_backlog_up 0 instead of a failed scrape."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("kalite_outbox_backlog_up", "1 when the outbox backlog could be read")
        try:
            with self._engine.connect() as connection:
                count, oldest = connection.execute(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(
                        OutboxMessage.dispatched_at.is_(None)
                    )
                ).one()
        except Exception as error:
            log.warning("outbox backlog not read: %s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "kalite_outbox_unsent_messages", "Outbox rows not yet delivered to the engine", value=count
        )
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "kalite_outbox_oldest_unsent_age_seconds",
            "Age of the oldest undelivered outbox row (0 when none waits)",
            value=max(age, 0.0),
        )


def exposition(engine: Engine | None = None) -> bytes:
    """This process's metrics in the Prometheus text format; with `engine`, the outbox backlog too."""
    text = generate_latest(REGISTRY)
    if engine is not None:
        text += generate_latest(OutboxBacklog(engine))  # a collector is all generate_latest reads
    return text
