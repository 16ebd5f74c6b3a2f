"""A category's extra questions, asked at intake on every channel (the web page shows them as
fields, Open311 GeoReport v2 publishes them as the service's attributes, the JSON API takes them
as `attributes`), and the one check of the answers all channels share.

The administrator defines them on the category (`PUT /catalogue/categories/{code}`); they must not
ask for personal data, since the answers are part of the request, not of the citizen's contact.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class Datatype(StrEnum):
    """Open311 GeoReport v2's attribute datatypes."""

    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    TEXT = "text"
    SINGLE = "singlevaluelist"
    MULTI = "multivaluelist"


LISTS = (Datatype.SINGLE, Datatype.MULTI)
MAX_STRING, MAX_TEXT = 200, 2000


class Value(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    name: str = Field(min_length=1, max_length=200)


class Definition(BaseModel):
    """One extra question. `description` is the question as the citizen reads it (Turkish)."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)
    code: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    datatype: Datatype
    required: bool = False
    description: str = Field(min_length=2, max_length=300)
    datatype_description: str | None = Field(None, max_length=200, description="e.g. 'metre cinsinden'")
    order: int = Field(1, ge=1, le=100)
    values: list[Value] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values_for_lists(self) -> Definition:
        if self.datatype in LISTS and not self.values:
            raise ValueError(f"{self.code}: a {self.datatype.value} needs values")
        if self.datatype not in LISTS and self.values:
            raise ValueError(f"{self.code}: only singlevaluelist and multivaluelist take values")
        if len({v.key for v in self.values}) != len(self.values):
            raise ValueError(f"{self.code}: value keys must be unique")
        return self


def definitions(stored: list[dict[str, Any]] | None) -> list[Definition]:
    """The category's stored definitions, in their order."""
    return sorted((Definition.model_validate(d) for d in stored or []), key=lambda d: (d.order, d.code))


def check_definitions(items: list[Definition]) -> list[dict[str, Any]]:
    """What the catalogue stores; codes must be unique within a category."""
    codes = [d.code for d in items]
    duplicated = sorted({c for c in codes if codes.count(c) > 1})
    if duplicated:
        raise ValueError(f"attribute codes must be unique: {', '.join(duplicated)}")
    return [d.model_dump(mode="json", by_alias=True, exclude_none=True) for d in items]


class AnswerInvalid(ValueError):
    """An answer that does not fit its question; `code` names the attribute."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def check_answers(items: list[Definition], answers: dict[str, str | list[str]]) -> dict[str, Any] | None:
    """The answers as stored with the request (numbers as numbers, lists as lists of keys), or
    None when there are none. Raises AnswerInvalid (Turkish message) for the first wrong one."""
    known = {d.code: d for d in items}
    for code in answers:
        if code not in known:
            raise AnswerInvalid(code, "bu kategori için böyle bir soru yok")
    stored: dict[str, Any] = {}
    for d in items:
        raw = answers.get(d.code)
        given = [v.strip() for v in ([raw] if isinstance(raw, str) else raw or []) if v and v.strip()]
        if not given:
            if d.required:
                raise AnswerInvalid(d.code, f"“{d.description}” sorusunun yanıtı gerekli")
            continue
        stored[d.code] = _value(d, given)
    return stored or None


def _value(d: Definition, given: list[str]) -> Any:
    if d.datatype is Datatype.MULTI:
        keys = {v.key for v in d.values}
        wrong = [g for g in given if g not in keys]
        if wrong:
            raise AnswerInvalid(d.code, f"geçerli seçenekler: {_choices(d)}")
        return sorted(set(given), key=[v.key for v in d.values].index)
    if len(given) > 1:
        raise AnswerInvalid(d.code, "tek bir yanıt verin")
    value = given[0]
    if d.datatype is Datatype.SINGLE:
        if value not in {v.key for v in d.values}:
            raise AnswerInvalid(d.code, f"geçerli seçenekler: {_choices(d)}")
        return value
    if d.datatype is Datatype.NUMBER:
        try:
            number = Decimal(value.replace(",", "."))
        except InvalidOperation:
            raise AnswerInvalid(d.code, "bir sayı yazın (ör. 2 ya da 2,5)") from None
        if not number.is_finite() or abs(number) > Decimal("1e12"):
            raise AnswerInvalid(d.code, "bir sayı yazın (ör. 2 ya da 2,5)")
        return int(number) if number == number.to_integral_value() else float(number)
    if d.datatype is Datatype.DATETIME:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise AnswerInvalid(d.code, "tarih ve saati GGGG-AA-GGTSS:DD biçiminde yazın") from None
        return moment.isoformat()
    limit = MAX_TEXT if d.datatype is Datatype.TEXT else MAX_STRING
    if len(value) > limit:
        raise AnswerInvalid(d.code, f"en çok {limit} karakter")
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        raise AnswerInvalid(d.code, "denetim karakterleri kullanılamaz")
    return value


def answers_text(items: list[Definition], stored: dict[str, Any] | None) -> str:
    """The answers as staff read them in a mail: one "question: answer" per line, "-" if none."""
    lines = []
    for d in items:
        value = (stored or {}).get(d.code)
        if value is None:
            continue
        names = {v.key: v.name for v in d.values}
        shown = [names.get(str(v), str(v)) for v in (value if isinstance(value, list) else [value])]
        lines.append(f"{d.description}: {', '.join(shown)}")
    return "\n".join(lines) or "-"


def _choices(d: Definition) -> str:
    return ", ".join(f"{v.key} ({v.name})" for v in d.values)
