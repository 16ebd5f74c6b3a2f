"""No citizen's personal data in the engine: not in any process variable (runtime and history, every
update of it), task name or description, incident or failure message, or business key.

KVKK: the engine keeps its runtime and history outside our encrypted tables and outside the
retention job, so only ids may travel there (services/models.py, CitizenContact). The test makes
its own requests with known Turkish names, phones, e-mails and addresses, drives them through a few
steps (an information request answered by the citizen in their own words, a closure check that
finds a nonconformity redirected to an institution, a nonconformity the citizen reports by name
that reopens the request), then reads everything the engine holds through its REST API (what
Cockpit shows) and compares it with every citizen's name, phone, e-mail and address in the
running app's database (decrypted through the ORM) and with the names of citizens who reported a
nonconformity themselves. It depends on no other test: whatever else is in the engine is scanned too.

It refuses to pass vacuously (it must have read real variables, among them its own requests'), and
it proves that it finds a leak: a name and a phone of one of its citizens are planted, disguised,
in variables of one of its instances, must be reported in the runtime, the history and the
variable updates, and are removed from the engine (history included) afterwards.

Matching: names and addresses Turkish-case-insensitively, with or without the marks of Turkish
letters (Ayşe, AYŞE, Ayse), with any spacing, as whole words; phones in every way they are
written (+905321234567, 05321234567, 5321234567, "0532 123 45 67", "(0532) 123-45-67"); e-mails
case-insensitively. A leak is reported by where it is, process instance and kind of data, never
with the data itself.
"""

from __future__ import annotations

import contextlib
import json
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from services.anonymisation import ANONYMISED, CITIZEN_SOURCE
from services.bootstrap import Container
from services.models import CitizenContact, CitizenRequest, Nonconformity
from services.operaton import Operaton
from services.process_engine import EngineRefused
from tests.integration.citizen import (
    end_objection_period,
    instance_of,
    request_row,
    submit,
    wait_mail,
    wait_status,
)
from tests.integration.quality import nonconformity, nonconformity_of_request
from tests.integration.tasklist import complete, poll, wait_for_state, wait_for_task

PAGE = 1000
MIN_VARIABLES = 100
SEPARATORS = r"[\s\-.()/]*"
STAFF, PUBLIC_RELATIONS = "yol.personel", "halkla.iliskiler"

# The citizens of this test: Turkish letters in every field, phones written as people write them.
SUKRU = {
    "fullName": "Şükrü Çağlayan Öğüt",
    "phone": "0533 456 78 90",
    "address": "Kâzım Karabekir Cd. No:17 D:3, Toroslar/Mersin",
}
ILKNUR = {
    "fullName": "İlknur Gülşah Ilıcak",
    "phone": "+90 542 321 09 87",
    "address": "Güvenevler Mah. 1903 Sk. No:5, Yenişehir/Mersin",
}


# ---------------------------------------------------------------- matching


def turkish_fold(text: str) -> str:
    """Lower case by Turkish rules (İ→i, I→ı), then without the letters' marks (ş→s, ğ→g, ö→o, …)
    and dotted and dotless i alike: systems that change case without Turkish rules, or write
    without Turkish letters, turn one into the other. Runs of whitespace become one space."""
    text = unicodedata.normalize("NFC", text).replace("İ", "i").replace("I", "ı").lower()
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(bare.replace("ı", "i").split())


def words_pattern(value: str) -> str | None:
    """The value as whole words of folded text, with any spacing between its words."""
    words = turkish_fold(value).split(" ")
    if len("".join(words)) < 3:
        return None
    return r"\s+".join(re.escape(w) for w in words)


def phone_pattern(phone: str) -> str | None:
    """A Turkish number with or without +90/0, with any separators between its digits."""
    digits = re.sub(r"\D", "", phone)[-10:]
    if len(digits) < 10:
        return None
    return r"(?:(?:\+|00)?90|0)?" + SEPARATORS + SEPARATORS.join(digits)


def _either(patterns: set[str | None], before: str, after: str) -> re.Pattern[str] | None:
    found = sorted(p for p in patterns if p)
    return re.compile(before + "(?:" + "|".join(found) + ")" + after) if found else None


@dataclass
class PersonalData:
    """The distinct values to look for, by kind."""

    contacts: int = 0
    reporters: int = 0
    instances: set[str] = field(default_factory=set)  # of the contacts' requests
    names: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    addresses: set[str] = field(default_factory=set)

    def matcher(self) -> Matcher:
        return Matcher(
            names=_either({words_pattern(v) for v in self.names}, r"(?<!\w)", r"(?!\w)"),
            addresses=_either({words_pattern(v) for v in self.addresses}, r"(?<!\w)", r"(?!\w)"),
            phones=_either({phone_pattern(v) for v in self.phones}, r"(?<!\d)", r"(?!\d)"),
            emails=frozenset(self.emails),
        )


@dataclass(frozen=True)
class Matcher:
    names: re.Pattern[str] | None
    addresses: re.Pattern[str] | None
    phones: re.Pattern[str] | None
    emails: frozenset[str]

    def kinds_in(self, text: str) -> set[str]:
        if not text:
            return set()
        folded, lowered = turkish_fold(text), text.lower()
        kinds = set()
        if self.names and self.names.search(folded):
            kinds.add("a name")
        if self.addresses and self.addresses.search(folded):
            kinds.add("an address")
        if self.phones and self.phones.search(text):
            kinds.add("a phone number")
        if any(email in lowered for email in self.emails):
            kinds.add("an e-mail address")
        return kinds


def citizens(container: Container) -> PersonalData:
    """Every citizen's personal data in the running app's database, decrypted."""
    data = PersonalData()
    with container.uow() as uow:
        rows = uow.session.execute(
            select(CitizenContact, CitizenRequest.process_instance_id).join(
                CitizenRequest, CitizenRequest.id == CitizenContact.request_id
            )
        )
        for contact, instance in rows:
            if contact.full_name == ANONYMISED:
                continue
            data.contacts += 1
            if instance is not None:
                data.instances.add(str(instance))
            data.names.add(contact.full_name)
            if contact.phone:
                data.phones.add(contact.phone)
            if contact.email:
                data.emails.add(contact.email.strip().lower())
            if contact.address:
                data.addresses.add(contact.address)
        for name in uow.session.scalars(
            select(Nonconformity.found_by).where(Nonconformity.source == CITIZEN_SOURCE)
        ):
            if name != ANONYMISED:
                data.reporters += 1
                data.names.add(name)
    return data


def searchable_text(value: Any) -> str:
    """Every string and number inside the value (a JSON text decoded), one per line."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
    else:
        decoded = value
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                parts.append(str(key))
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif node is not None:
            parts.append(str(node))

    walk(decoded)
    return "\n".join(parts)


# ---------------------------------------------------------------- what the engine holds


@dataclass(frozen=True)
class Text:
    """One text the engine keeps: where it is (never the text in a report) and the text."""

    source: str  # e.g. "runtime variable"
    where: str  # e.g. "variable 'x' (id …)"
    instance: str | None
    text: str


def pages(engine: Operaton, path: str, **params: Any) -> Iterator[dict[str, Any]]:
    first = 0
    while True:
        batch: list[dict[str, Any]] = engine.json(
            "GET", path, params={**params, "firstResult": first, "maxResults": PAGE}
        )
        yield from batch
        if len(batch) < PAGE:
            return
        first += PAGE


def engine_texts(engine: Operaton) -> Iterator[Text]:
    """Everything of the engine's that could hold personal data, as Cockpit reads it."""
    raw = {"deserializeValues": "false"}
    for v in pages(engine, "/variable-instance", **raw):
        yield Text(
            "runtime variable",
            f"variable {v['name']!r} (id {v['id']})",
            v["processInstanceId"],
            searchable_text(v.get("value")),
        )
    for v in pages(engine, "/history/variable-instance", includeDeleted="true", **raw):
        yield Text(
            "historic variable",
            f"variable {v['name']!r} (id {v['id']})",
            v["processInstanceId"],
            searchable_text(v.get("value")),
        )
    for d in pages(engine, "/history/detail", **raw):
        value = d.get("value") if d.get("type") == "variableUpdate" else d.get("fieldValue")
        name = d.get("variableName") or d.get("fieldId")
        yield Text(
            "variable update",
            f"{d.get('type')} of {name!r} (id {d['id']})",
            d.get("processInstanceId"),
            searchable_text(value),
        )
    for t in pages(engine, "/task"):
        yield Text(
            "open task",
            f"task {t['taskDefinitionKey']} (id {t['id']})",
            t.get("processInstanceId"),
            f"{t.get('name') or ''}\n{t.get('description') or ''}",
        )
    for t in pages(engine, "/history/task"):
        yield Text(
            "historic task",
            f"task {t['taskDefinitionKey']} (id {t['id']})",
            t.get("processInstanceId"),
            f"{t.get('name') or ''}\n{t.get('description') or ''}\n{t.get('deleteReason') or ''}",
        )
    for i in pages(engine, "/incident"):
        yield Text(
            "open incident",
            f"incident on {i['activityId']} (id {i['id']})",
            i.get("processInstanceId"),
            i.get("incidentMessage") or "",
        )
    for i in pages(engine, "/history/incident"):
        yield Text(
            "historic incident",
            f"incident on {i['activityId']} (id {i['id']})",
            i.get("processInstanceId"),
            i.get("incidentMessage") or "",
        )
    for e in pages(engine, "/external-task"):
        yield Text(
            "external task",
            f"task {e['activityId']} (id {e['id']})",
            e.get("processInstanceId"),
            e.get("errorMessage") or "",
        )
    for e in pages(engine, "/history/external-task-log", failureLog="true"):
        yield Text(
            "failure log",
            f"failure of {e['activityId']} (id {e['id']})",
            e.get("processInstanceId"),
            e.get("errorMessage") or "",
        )
    for p in pages(engine, "/history/process-instance"):
        yield Text(
            "business key",
            f"instance of {p['processDefinitionKey']}",
            p["id"],
            f"{p.get('businessKey') or ''}\n{p.get('deleteReason') or ''}",
        )


@dataclass
class Scan:
    texts: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    instances_by_source: dict[str, set[str]] = field(default_factory=dict)
    leaks: list[tuple[str, Text]] = field(default_factory=list)  # kind, where

    def summary(self) -> str:
        counts = ", ".join(f"{n} {source}s" for source, n in sorted(self.by_source.items()))
        return f"{self.texts} texts ({counts}); {len(self.leaks)} leaks"


def scan(engine: Operaton, matcher: Matcher) -> Scan:
    result = Scan()
    for text in engine_texts(engine):
        result.texts += 1
        result.by_source[text.source] = result.by_source.get(text.source, 0) + 1
        if text.instance:
            result.instances_by_source.setdefault(text.source, set()).add(text.instance)
        for kind in sorted(matcher.kinds_in(text.text)):
            result.leaks.append((kind, text))
    return result


# ---------------------------------------------------------------- the test's own requests


def _citizen(person: dict[str, str]) -> dict[str, Any]:
    return {
        "citizen": {
            "fullName": person["fullName"],
            "phone": person["phone"],
            "email": f"{turkish_fold(person['fullName']).split()[0]}.{uuid.uuid4().hex[:8]}@vatandas.local",
        },
        "location": {"address": person["address"], "latitude": 36.81, "longitude": 34.62},
    }


def _asked_answered_and_redirected(api: httpx.Client, engine: Operaton, mailbox: Path) -> tuple[str, str]:
    """Şükrü's request: asked for more, answered in his own words, redirected to MESKİ."""
    tracking, body = submit(api, **_citizen(SUKRU))
    instance = instance_of(tracking)
    question = "Çukur hangi kapının önünde?"
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "bilgi-gerekli", "question": question},
        assignee=STAFF,
    )
    wait_mail(mailbox, to=body["citizen"]["email"], containing=question)
    wait_status(tracking, "bilgi-bekleniyor")
    words = f"Ben {SUKRU['fullName']}, {SUKRU['address']} önünde; {SUKRU['phone']} numarasından arayın."
    assert api.post(f"/requests/{tracking}/replies", json={"text": words}).status_code == 202
    complete(
        engine,
        instance,
        "talebi-degerlendir",
        {"outcome": "yapildi", "resolution": "Yama yapıldı."},
        assignee=STAFF,
    )
    complete(
        engine,
        instance,
        "kapatma-kontrolu",
        {"closureDecision": "uygun-degil", "closureNote": "Su sızıntısı sürüyor."},
        assignee=PUBLIC_RELATIONS,
    )
    nc = nonconformity_of_request(wait_status(tracking, "uygunsuzluk")["id"])
    complete(
        engine,
        str(nc["process_instance_id"]),
        "uygunsuzluk-karari",
        {"decision": "yonlendir", "institutionCode": "MESKI", "justification": "Su hattı arızası."},
        assignee=PUBLIC_RELATIONS,
    )
    wait_status(tracking, "kuruma-yonlendirildi")
    wait_for_state(engine, instance, "COMPLETED")
    return instance, str(nc["process_instance_id"])


def _closed_then_reported_by_the_citizen(api: httpx.Client, engine: Operaton) -> tuple[str, str, str]:
    """İlknur's request: closed, then she reports by name that it was not done: reopened."""
    tracking, _ = submit(api, **_citizen(ILKNUR))
    first = instance_of(tracking)
    complete(
        engine,
        first,
        "talebi-degerlendir",
        {"outcome": "yapildi", "resolution": "Kapatıldı."},
        assignee=STAFF,
    )
    complete(
        engine,
        first,
        "kapatma-kontrolu",
        {"closureDecision": "uygun", "closureNote": ""},
        assignee=PUBLIC_RELATIONS,
    )
    wait_status(tracking, "kapatildi")
    end_objection_period(engine, first)
    reported = api.post(
        "/nonconformities",
        json={
            "directorateCode": "YOL",
            "description": "Vatandaş çukurun bir hafta sonra yeniden açıldığını bildirdi.",
            "source": CITIZEN_SOURCE,
            "foundBy": ILKNUR["fullName"],
            "requestTrackingNumber": tracking,
        },
    )
    assert reported.status_code == 201, reported.text
    nc = nonconformity(reported.json()["id"])
    complete(
        engine,
        str(nc["process_instance_id"]),
        "uygunsuzluk-karari",
        {"decision": "yeniden-ac", "justification": "Kalıcı onarım gerekiyor."},
        assignee=PUBLIC_RELATIONS,
    )
    row = poll(
        lambda: (
            r
            if (r := request_row(tracking))
            and r["status"] == "mudurlukte"
            and r["process_instance_id"] != first
            else None
        ),
        what=f"{tracking} at its directorate again, in a new instance",
    )
    again = str(row["process_instance_id"])
    wait_for_task(engine, again, "talebi-degerlendir")
    return first, str(nc["process_instance_id"]), again


def _remove_planted(engine: Operaton, instance: str, names: list[str]) -> None:
    """The planted variables out of the engine, their history and updates included."""
    for name in names:
        with contextlib.suppress(EngineRefused):  # the instance may have ended meanwhile
            engine.call("DELETE", f"/process-instance/{instance}/variables/{name}")
        for row in pages(engine, "/history/variable-instance", variableName=name, includeDeleted="true"):
            engine.call("DELETE", f"/history/variable-instance/{row['id']}")


# ---------------------------------------------------------------- the test


def test_the_engine_holds_no_personal_data_of_citizens(
    api: httpx.Client, engine: Operaton, mailbox_dir: Path, app_container: Container
) -> None:
    sukru_request, sukru_nonconformity = _asked_answered_and_redirected(api, engine, mailbox_dir)
    ilknur_first, ilknur_nonconformity, ilknur_again = _closed_then_reported_by_the_citizen(api, engine)
    ours = {sukru_request, sukru_nonconformity, ilknur_first, ilknur_nonconformity, ilknur_again}

    data = citizens(app_container)
    assert {SUKRU["fullName"], ILKNUR["fullName"]} <= data.names, (
        "the test's citizens are not in the database"
    )
    assert {sukru_request, ilknur_again} <= data.instances  # a request keeps its latest instance

    # A leak to find: one citizen's name (upper case, without Turkish letters, spaced out) and
    # phone (written another way), in variables of a running instance of ours.
    tag = uuid.uuid4().hex[:8]
    planted = {
        f"kvkkDenetimNotu_{tag}": {"not": "Arayan:  SUKRU CAGLAYAN   OGUT"},
        f"kvkkDenetimTelefonu_{tag}": "(0533) 456-78-90",
    }
    engine.set_variables(ilknur_again, planted)
    try:
        result = scan(engine, data.matcher())
    finally:
        _remove_planted(engine, ilknur_again, list(planted))

    def is_planted(text: Text) -> bool:
        return any(repr(name) in text.where for name in planted)

    summary = (
        f"{data.contacts} citizen contacts ({len(data.names)} names with {data.reporters} citizen "
        f"reporters of nonconformities, {len(data.phones)} phones, {len(data.emails)} e-mails, "
        f"{len(data.addresses)} addresses) against {result.summary()}"
    )
    print(f"\npersonal data in the engine: {summary}")

    # Not vacuous: real variables were read, this test's own instances among them, everywhere.
    variables = result.by_source.get("runtime variable", 0) + result.by_source.get("historic variable", 0)
    assert variables >= MIN_VARIABLES, f"too few variables read to mean anything ({summary})"
    assert ours <= result.instances_by_source.get("historic variable", set()), summary
    assert ours <= result.instances_by_source.get("variable update", set()), summary
    assert ilknur_again in result.instances_by_source.get("runtime variable", set()), summary
    assert ours <= result.instances_by_source.get("business key", set()), summary
    assert data.instances & result.instances_by_source.get("historic variable", set())

    # The planted leak is found where the engine keeps it: the variable, its history, its update.
    found = {(kind, text.source) for kind, text in result.leaks if is_planted(text)}
    for source in ("runtime variable", "historic variable", "variable update"):
        assert {("a name", source), ("a phone number", source)} <= found, (source, found)

    leaks = [(kind, text) for kind, text in result.leaks if not is_planted(text)]
    definitions: dict[str, str] = {}
    for _, text in leaks[:20]:
        if text.instance and text.instance not in definitions:
            instance = engine.historic_instance(text.instance)
            definitions[text.instance] = str(instance["processDefinitionKey"]) if instance else "?"
    assert not leaks, f"personal data in the engine ({summary}):\n" + "\n".join(
        f"- {kind} in the {text.source} {text.where} of process instance {text.instance} "
        f"({definitions.get(text.instance or '', '?')})"
        for kind, text in leaks[:20]
    )
