"""Wording as data: every mail and SMS text, and every line of a request's public history, is a
versioned template an administrator changes.

The shipped defaults and the placeholders each key offers live in services/data/mesaj-sablonlari.toml;
versions live in `message_templates` and the newest one of a key, medium and category is sent (a
category's own text before the general one). Templates are Jinja2, rendered in a sandbox with
undefined names refused. Plain-text media: nothing is HTML-escaped, a value is printed as it is and
never read as template code; a subject loses its line breaks, an SMS and a status line (`durum`,
what the citizen's status page lists, at most as long as its column) every control character.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal, get_args

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.db import UnitOfWorkFactory
from services.models import Category, MessageTemplate, RequestEvent

# durum: a line of the request's public history (GET /requests/{trackingNumber}).
Medium = Literal["eposta", "sms", "durum"]
MEDIA: tuple[Medium, ...] = get_args(Medium)
DEFAULTS = Path(__file__).resolve().parent / "data" / "mesaj-sablonlari.toml"
SYSTEM = "sistem"
KEY = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")
PLACEHOLDER = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
FIELD_NAMES = {"subject": "konu", "body": "metin"}
NO_SUBJECT = {"sms": "SMS'in", "durum": "Durum satırının"}
STATUS_LENGTH: int = RequestEvent.__table__.c.public_text.type.length  # type: ignore[attr-defined]
# C0 (without tab and line feed), DEL and C1; line breaks are handled per medium before.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

ENVIRONMENT = SandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,  # a mail body ends with its line break
    trim_blocks=True,  # {% if %} … {% endif %} on lines of their own leave no empty lines
    lstrip_blocks=True,
)
# A text uses its placeholders, literals and filters; no globals (range, lipsum, namespace, …).
ENVIRONMENT.globals.clear()


@dataclass(frozen=True)
class Text:
    subject: str  # mail subject; for sms and durum the empty string
    body: str


class TemplateError(ValueError):
    """A template or a rendering refused, in Turkish; `field` and `line` say where when known."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        unknown: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.field = field
        self.line = line
        self.unknown = unknown


class UnknownTemplate(TemplateError):
    """No such key and medium is shipped (the API answers 404)."""


# ---------------------------------------------------------------- the shipped file


@dataclass(frozen=True)
class Placeholder:
    name: str
    description: str
    sample: str | int


@dataclass(frozen=True)
class Default:
    key: str
    medium: Medium
    category_code: str | None
    description: str
    placeholders: tuple[str, ...]
    subject: str
    body: str


@dataclass(frozen=True)
class Shipped:
    placeholders: dict[str, Placeholder]
    defaults: dict[tuple[str, str, str | None], Default]

    def general(self, key: str, medium: str) -> Default:
        """The category-less default of a key and medium: its description and placeholders."""
        found = self.defaults.get((key, medium, None))
        if found is None:
            raise UnknownTemplate(f"'{key}' ({medium}) adında bir mesaj şablonu yok.")
        return found

    def samples(self, key: str, medium: str) -> dict[str, str | int]:
        return {name: self.placeholders[name].sample for name in self.general(key, medium).placeholders}


@cache
def shipped(path: Path = DEFAULTS) -> Shipped:
    """The defaults file, checked once: every text valid and renderable with its samples."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    placeholders = {
        name: Placeholder(name, str(spec["description"]), spec["sample"])
        for name, spec in data.get("yer_tutucu", {}).items()
    }
    for p in placeholders.values():
        if not PLACEHOLDER.match(p.name) or not isinstance(p.sample, str | int):
            raise ValueError(f"{path.name}: placeholder {p.name!r} needs a snake_case name and a sample")
    defaults: dict[tuple[str, str, str | None], Default] = {}
    for entry in data.get("sablon", []):
        default = Default(
            key=entry["key"],
            medium=entry["medium"],
            category_code=entry.get("category"),
            description=entry["description"],
            placeholders=tuple(entry.get("placeholders", ())),
            subject=entry.get("subject", ""),
            body=entry["body"],
        )
        where = f"{path.name}: {default.key} ({default.medium}, {default.category_code or 'genel'})"
        if not KEY.match(default.key) or default.medium not in MEDIA:
            raise ValueError(f"{where}: key must be lower-case words with . or -, medium one of {MEDIA}")
        if (default.key, default.medium, default.category_code) in defaults:
            raise ValueError(f"{where}: defined twice")
        if undefined := set(default.placeholders) - set(placeholders):
            raise ValueError(f"{where}: placeholders without [yer_tutucu]: {sorted(undefined)}")
        defaults[(default.key, default.medium, default.category_code)] = default
    table = Shipped(placeholders, defaults)
    for default in defaults.values():
        try:
            check(default.key, default.medium, default.subject, default.body, within=table)
        except TemplateError as error:
            where = f"{path.name}: {default.key} ({default.medium}, {default.category_code or 'genel'})"
            raise ValueError(f"{where}: {error}") from None
    return table


# ---------------------------------------------------------------- checking and rendering


def check(key: str, medium: str, subject: str, body: str, *, within: Shipped | None = None) -> None:
    """Refuse a text that could not be sent: wrong shape, a syntax error, a name the key does not
    offer, or a failure when rendered with the sample values."""
    table = within or shipped()
    allowed = table.general(key, medium).placeholders
    if medium in NO_SUBJECT and subject:
        raise TemplateError(f"{NO_SUBJECT[medium]} konusu olmaz: konu boş bırakılmalı.", field="subject")
    if medium == "eposta" and not subject.strip():
        raise TemplateError("E-postanın konusu boş olamaz.", field="subject")
    if subject.splitlines() not in ([], [subject]):
        raise TemplateError("E-postanın konusu tek satır olmalı.", field="subject")
    if not body.strip():
        raise TemplateError("Metin boş olamaz.", field="body")
    for field, source in (("subject", subject), ("body", body)):
        try:
            names = meta.find_undeclared_variables(ENVIRONMENT.parse(source))
        except jinja2.TemplateSyntaxError as error:
            raise _syntax_error(field, error) from None
        if unknown := tuple(sorted(names - set(allowed))):
            raise TemplateError(
                f"Bilinmeyen yer tutucu ({FIELD_NAMES[field]}): {', '.join(unknown)}. "
                f"Bu şablonda kullanılabilenler: {', '.join(allowed)}.",
                field=field,
                unknown=unknown,
            )
    try:
        text = render_text(medium, subject, body, table.samples(key, medium), shorten=False)
    except TemplateError as error:
        raise TemplateError(f"Örnek değerlerle işlenemedi: {error}", field=error.field) from None
    if medium == "durum" and len(text.body) > STATUS_LENGTH:
        raise TemplateError(
            f"Durum satırı en çok {STATUS_LENGTH} karakter olabilir; örnek değerlerle "
            f"{len(text.body)} karakter oluyor.",
            field="body",
        )


def _syntax_error(field: str, error: jinja2.TemplateSyntaxError) -> TemplateError:
    return TemplateError(
        f"Şablonda sözdizimi hatası ({FIELD_NAMES[field]}, satır {error.lineno}): {error.message}",
        field=field,
        line=error.lineno,
    )


@lru_cache(maxsize=512)
def _compiled(source: str) -> jinja2.Template:
    return ENVIRONMENT.from_string(source)


def render_text(
    medium: str, subject: str, body: str, values: Mapping[str, object], *, shorten: bool = True
) -> Text:
    """Fill a subject and body (template sources) with values and escape them for the medium.

    A status line longer than its column (a long real value: the samples fit) is cut with an
    ellipsis unless `shorten` is False (the check measures it)."""
    rendered: dict[str, str] = {}
    for field, source in (("subject", subject), ("body", body)):
        try:
            rendered[field] = _compiled(source).render(values)
        except jinja2.TemplateSyntaxError as error:
            raise _syntax_error(field, error) from None
        except jinja2.exceptions.SecurityError:
            raise TemplateError(
                f"Şablonda izin verilmeyen bir işlem var ({FIELD_NAMES[field]}).", field=field
            ) from None
        except jinja2.UndefinedError as error:
            raise TemplateError(
                f"Şablonda tanımsız ad ({FIELD_NAMES[field]}): {error}", field=field
            ) from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as error:
            raise TemplateError(
                f"Şablon işlenemedi ({FIELD_NAMES[field]}): {type(error).__name__}: {error}", field=field
            ) from None
    if medium == "sms":
        return Text(subject="", body=for_sms(rendered["body"]))
    if medium == "durum":
        line = for_sms(rendered["body"])
        if shorten and len(line) > STATUS_LENGTH:
            line = line[: STATUS_LENGTH - 1].rstrip() + "…"
        return Text(subject="", body=line)
    return Text(subject=for_subject(rendered["subject"]), body=for_mail_body(rendered["body"]))


def for_subject(text: str) -> str:
    """One line: a line break (in the template or a value) becomes a space, no header is added."""
    return CONTROL.sub("", " ".join(text.splitlines()).replace("\t", " ")).strip()


def for_mail_body(text: str) -> str:
    """Line breaks and tabs stay; other control characters go."""
    return CONTROL.sub("", "\n".join(text.splitlines()) + ("\n" if text.endswith(("\n", "\r")) else ""))


def for_sms(text: str) -> str:
    """One line of text (an SMS, a status line): line breaks and tabs become single spaces, other
    control characters go."""
    return re.sub(r"\s+", " ", CONTROL.sub("", " ".join(text.splitlines()).replace("\t", " "))).strip()


def render(
    session: Session,
    key: str,
    medium: Medium,
    values: Mapping[str, object],
    *,
    category_code: str | None = None,
) -> Text:
    """The newest text of key and medium for the category (else the general one), filled with values.

    `values` must hold every placeholder the key offers (already formatted strings or numbers);
    others are ignored."""
    allowed = shipped().general(key, medium).placeholders
    missing = [name for name in allowed if values.get(name) is None]
    if missing:
        raise TemplateError(f"'{key}' ({medium}) şablonu için değer verilmedi: {', '.join(missing)}.")
    subject, body = _source(session, key, medium, _category(category_code))
    return render_text(medium, subject, body, {name: values[name] for name in allowed})


def _category(code: str | None) -> str | None:
    return (code.strip().upper() or None) if code else None


def _source(session: Session, key: str, medium: str, category_code: str | None) -> tuple[str, str]:
    newest = session.execute(
        select(MessageTemplate.subject, MessageTemplate.body)
        .where(
            MessageTemplate.key == key,
            MessageTemplate.medium == medium,
            (MessageTemplate.category_code == category_code) | MessageTemplate.category_code.is_(None),
        )
        # The category's own text first, then the newest version.
        .order_by(MessageTemplate.category_code.is_(None), MessageTemplate.version.desc())
        .limit(1)
    ).first()
    if newest is not None:
        return newest.subject, newest.body
    # Not loaded yet (a process that started before the defaults were stored): the shipped text.
    table = shipped()
    default = table.defaults.get((key, medium, category_code)) or table.general(key, medium)
    return default.subject, default.body


def preview(
    session: Session,
    key: str,
    medium: Medium,
    *,
    category_code: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    values: Mapping[str, str | int] | None = None,
) -> Text:
    """A draft (or the current text) rendered with the given values over the samples."""
    table = shipped()
    samples = table.samples(key, medium)
    given = dict(values or {})
    if unknown := tuple(sorted(set(given) - set(samples))):
        raise TemplateError(
            f"Bilinmeyen yer tutucu: {', '.join(unknown)}. "
            f"Bu şablonda kullanılabilenler: {', '.join(samples)}.",
            field="values",
            unknown=unknown,
        )
    current_subject, current_body = _source(session, key, medium, _category(category_code))
    subject = current_subject if subject is None else subject
    body = current_body if body is None else body
    check(key, medium, subject, body)
    return render_text(medium, subject, body, samples | given)


# ---------------------------------------------------------------- versions


_LOCK = func.pg_advisory_xact_lock(func.hashtextextended("message_templates", 0))


def _newest_versions(session: Session) -> list[MessageTemplate]:
    category = func.coalesce(MessageTemplate.category_code, "")
    newest = (
        select(
            MessageTemplate.key,
            MessageTemplate.medium,
            category.label("category"),
            func.max(MessageTemplate.version).label("version"),
        )
        .group_by(MessageTemplate.key, MessageTemplate.medium, category)
        .subquery()
    )
    return list(
        session.scalars(
            select(MessageTemplate)
            .join(
                newest,
                (MessageTemplate.key == newest.c.key)
                & (MessageTemplate.medium == newest.c.medium)
                & (category == newest.c.category)
                & (MessageTemplate.version == newest.c.version),
            )
            .order_by(MessageTemplate.key, MessageTemplate.medium, category)
        )
    )


def list_current(uow_factory: UnitOfWorkFactory) -> list[MessageTemplate]:
    """The current version of every key, medium and category."""
    with uow_factory() as uow:
        rows = _newest_versions(uow.session)
        uow.session.expunge_all()
        return rows


def history(
    uow_factory: UnitOfWorkFactory, key: str, medium: str, category_code: str | None
) -> list[MessageTemplate]:
    """Every version of one text, newest first (empty when it has none)."""
    shipped().general(key, medium)
    category_code = _category(category_code)
    with uow_factory() as uow:
        rows = list(
            uow.session.scalars(
                select(MessageTemplate)
                .where(
                    MessageTemplate.key == key,
                    MessageTemplate.medium == medium,
                    MessageTemplate.category_code == category_code
                    if category_code
                    else MessageTemplate.category_code.is_(None),
                )
                .order_by(MessageTemplate.version.desc())
            )
        )
        uow.session.expunge_all()
        return rows


def save(
    uow_factory: UnitOfWorkFactory,
    *,
    key: str,
    medium: str,
    category_code: str | None,
    subject: str,
    body: str,
    note: str | None,
    changed_by: str,
) -> MessageTemplate:
    """A new version, checked first; earlier versions stay as they were (who changed what, when)."""
    check(key, medium, subject, body)
    category_code = _category(category_code)
    with uow_factory() as uow:
        if category_code is not None and uow.session.get(Category, category_code) is None:
            raise TemplateError(f"Katalogda '{category_code}' kodlu bir kategori yok.", field="categoryCode")
        uow.session.execute(select(_LOCK))  # one writer at a time: versions are consecutive
        latest = uow.session.scalar(
            select(func.max(MessageTemplate.version)).where(
                MessageTemplate.key == key,
                MessageTemplate.medium == medium,
                func.coalesce(MessageTemplate.category_code, "") == (category_code or ""),
            )
        )
        row = MessageTemplate(
            key=key,
            medium=medium,
            category_code=category_code,
            version=(latest or 0) + 1,
            subject=subject,
            body=body,
            changed_by=changed_by,
            note=note,
        )
        uow.session.add(row)
        uow.commit()
        uow.session.refresh(row)
        uow.session.expunge(row)
        return row


def load_defaults(uow_factory: UnitOfWorkFactory, path: Path = DEFAULTS) -> int:
    """Store every shipped text that has no version yet as version 1; returns how many.

    Run on every start of the API and the workers: a new release's keys arrive, and what an
    administrator changed is never touched."""
    defaults = shipped(path).defaults
    with uow_factory() as uow:
        uow.session.execute(select(_LOCK))
        stored = {
            (key, medium, category)
            for key, medium, category in uow.session.execute(
                select(MessageTemplate.key, MessageTemplate.medium, MessageTemplate.category_code).distinct()
            )
        }
        missing = [d for ident, d in defaults.items() if ident not in stored]
        for d in missing:
            uow.session.add(
                MessageTemplate(
                    key=d.key,
                    medium=d.medium,
                    category_code=d.category_code,
                    version=1,
                    subject=d.subject,
                    body=d.body,
                    changed_by=SYSTEM,
                    note="Sürümle gelen varsayılan metin",
                )
            )
        uow.commit()
        return len(missing)


def describe(key: str, medium: str) -> tuple[str, list[Placeholder]]:
    """What a text is for and the placeholders it may use (from the shipped file)."""
    table = shipped()
    general = table.general(key, medium)
    return general.description, [table.placeholders[name] for name in general.placeholders]
