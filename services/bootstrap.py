"""The composition root: everything the API, the workers and the tests share, built on demand."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.audit import audited_sessionmaker
from services.config import Settings, get_settings
from services.db import UnitOfWork, make_engine
from services.notifications import Mailer, SmtpMailer
from services.operaton import Operaton
from services.process_engine import ProcessEngine
from services.sms import SmppSmsSender, SmsSender


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    mailer: Mailer
    sms: SmsSender
    process_engine: ProcessEngine

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def close(self) -> None:
        self.sms.close()
        self.process_engine.close()
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, mailer: Mailer | None = None) -> Container:
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)
    return Container(
        settings=settings,
        engine=engine,
        # Its sessions write the audit trail of personal data and quality records.
        session_factory=audited_sessionmaker(engine, expire_on_commit=False),
        mailer=mailer or SmtpMailer(settings),
        # Binds to the SMS centre on first use; the workers keep it bound for receipts.
        sms=SmppSmsSender(settings),
        process_engine=Operaton(settings.engine_rest_url, settings.engine_username, settings.engine_password),
    )
