"""Runs at the end (file name): no process variable on the engine holds a citizen's personal data.

KVKK: the engine and Operate/Tasklist keep variables outside our encrypted tables and outside the
retention job, so only ids may travel there (services/models.py, CitizenContact). After the
integration suite has run, every variable of every process instance that Operate knows is read
through its REST API and compared with every citizen's name, phone, e-mail and address in the
running app's database (decrypted through the ORM), and with the names of citizens who reported a
nonconformity themselves.

Matching: names and addresses Turkish-case-insensitively, with or without the marks of Turkish
letters (Ayşe, AYŞE, Ayse), with any spacing, as whole words; phones in every way they are
written (+905321234567, 05321234567, 5321234567, "0532 123 45 67", "(0532) 123-45-67"); e-mails
case-insensitively. A leak is reported by variable, process instance and kind of data, never with
the data itself.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from services.anonymisation import ANONYMISED, CITIZEN_SOURCE
from services.bootstrap import Container
from services.models import CitizenContact, CitizenRequest, Nonconformity
from tests.integration.camunda_web import CamundaWeb

PAGE = 500
# Operate keeps the first 8191 characters of a longer value in its search index (its importer's
# variableSizeThreshold) and reads the full value only by key.
OPERATE_PREVIEW_SIZE = 8191
MIN_VARIABLES = 100
SEPARATORS = r"[\s\-.()/]*"


def turkish_fold(text: str) -> str:
    """Lower case by Turkish rules (İ→i, I→ı), then without the letters' marks (ş→s, ğ→g, ö→o, …)
    and dotted and dotless i alike: systems that change case without Turkish rules, or write
    without Turkish letters, turn one into the other. Runs of whitespace become one space."""
    text = unicodedata.normalize("NFC", text).replace("İ", "i").replace("I", "ı").lower()
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(bare.replace("ı", "i").split())


def words_pattern(value: str) -> re.Pattern[str] | None:
    """The value as whole words of folded text, with any spacing between its words."""
    words = turkish_fold(value).split(" ")
    if len("".join(words)) < 3:
        return None
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)")


def phone_pattern(phone: str) -> re.Pattern[str] | None:
    """A Turkish number with or without +90/0, with any separators between its digits."""
    digits = re.sub(r"\D", "", phone)[-10:]
    if len(digits) < 10:
        return None
    return re.compile(r"(?<!\d)(?:(?:\+|00)?90|0)?" + SEPARATORS + SEPARATORS.join(digits) + r"(?!\d)")


@dataclass
class PersonalData:
    """The distinct values to look for, by kind."""

    contacts: int = 0
    reporters: int = 0
    instances: set[int] = field(default_factory=set)  # of the contacts' requests
    names: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    addresses: set[str] = field(default_factory=set)

    def patterns(self) -> list[tuple[str, re.Pattern[str]]]:
        found: list[tuple[str, re.Pattern[str] | None]] = [
            *(("a name", words_pattern(v)) for v in sorted(self.names)),
            *(("an address", words_pattern(v)) for v in sorted(self.addresses)),
            *(("a phone number", phone_pattern(v)) for v in sorted(self.phones)),
        ]
        return [(kind, p) for kind, p in found if p is not None]

    def kinds_in(self, text: str, patterns: list[tuple[str, re.Pattern[str]]]) -> set[str]:
        folded, lowered = turkish_fold(text), text.lower()
        kinds = {kind for kind, p in patterns if p.search(text if kind == "a phone number" else folded)}
        if any(email in lowered for email in self.emails):
            kinds.add("an e-mail address")
        return kinds


def citizens(container: Container) -> PersonalData:
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
                data.instances.add(int(instance))
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


def all_variables(camunda: CamundaWeb) -> Iterator[dict[str, Any]]:
    """Every variable of every process instance in Operate, page by page."""
    after: list[Any] | None = None
    while True:
        query: dict[str, Any] = {"size": PAGE, "sort": [{"field": "key", "order": "ASC"}]}
        if after:
            query["searchAfter"] = after
        response = camunda.send("POST", "/v1/variables/search", json=query)
        response.raise_for_status()
        page = response.json()
        yield from page["items"]
        if len(page["items"]) < PAGE:
            return
        after = page["sortValues"]


def variables_total(camunda: CamundaWeb) -> int:
    response = camunda.send("POST", "/v1/variables/search", json={"size": 1})
    response.raise_for_status()
    total: int = response.json()["total"]
    return total


def is_json(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def maybe_truncated(variable: dict[str, Any]) -> bool:
    # Operate 8.6 on OpenSearch leaves `truncated` empty in search results: judge by the value too.
    value = variable.get("value") or ""
    return bool(variable.get("truncated")) or len(value) >= OPERATE_PREVIEW_SIZE or not is_json(value)


def full_value(camunda: CamundaWeb, variable: dict[str, Any]) -> str:
    response = camunda.send("GET", f"/v1/variables/{variable['key']}")
    if response.status_code == 200 and response.json().get("truncated") is False:
        value: str = response.json()["value"]
        return value
    # With Operate and Tasklist in one process (Camunda 8.6), GET /v1/variables/{key} is claimed by
    # both and answers 500 ("Ambiguous handler methods"); Operate 8.6 on OpenSearch does not say
    # whether the value is whole. Operate's own UI reads the full value here:
    response = camunda.send(
        "GET",
        f"/api/process-instances/{variable['processInstanceKey']}/variables/"
        f"{variable['scopeKey']}-{variable['name']}",
    )
    response.raise_for_status()
    body = response.json()
    assert not body.get("isPreview"), f"variable {variable['key']}: Operate gave only a preview"
    value = body["value"]
    return value


def searchable_text(value: str) -> str:
    """Every string and number inside the JSON value, one per line (escapes undone)."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
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


def settled(camunda: CamundaWeb, timeout: float = 30) -> None:
    """Operate imports the engine's last records a little later: wait until the count stops growing."""
    deadline = time.monotonic() + timeout
    last = variables_total(camunda)
    while time.monotonic() < deadline:
        time.sleep(3)
        now = variables_total(camunda)
        if now == last:
            return
        last = now


def test_no_process_variable_holds_a_citizens_personal_data(
    app_container: Container, camunda: CamundaWeb
) -> None:
    data = citizens(app_container)
    patterns = data.patterns()
    settled(camunda)

    checked = fetched = 0
    instances: set[int] = set()
    leaks: list[tuple[str, str, int, int]] = []  # kind, variable, variable key, process instance
    for variable in all_variables(camunda):
        value = variable.get("value") or ""
        if maybe_truncated(variable):
            value = full_value(camunda, variable)
            fetched += 1
        checked += 1
        instance = int(variable["processInstanceKey"])
        instances.add(instance)
        for kind in sorted(data.kinds_in(searchable_text(value), patterns)):
            leaks.append((kind, variable["name"], int(variable["key"]), instance))

    summary = (
        f"{data.contacts} citizen contacts ({len(data.names)} names with {data.reporters} citizen "
        f"reporters of nonconformities, {len(data.phones)} phones, {len(data.emails)} e-mails, "
        f"{len(data.addresses)} addresses) against {checked} variables ({fetched} read in full) of "
        f"{len(instances)} process instances; {len(data.instances & instances)} of the contacts' "
        f"{len(data.instances)} request instances among them; {len(leaks)} leaks"
    )
    print(f"\npersonal data in process variables: {summary}")

    assert data.contacts > 0, f"no citizen contacts in the app's database: run the suite first ({summary})"
    assert checked >= MIN_VARIABLES, f"too few variables read to mean anything ({summary})"
    assert data.instances & instances, f"none of the citizens' request instances read in Operate ({summary})"
    processes: dict[int, str] = {}
    for _, _, _, instance in leaks[:20]:
        found = camunda.process_instance(instance)
        processes[instance] = str(found["bpmnProcessId"]) if found else "?"
    assert not leaks, f"personal data in process variables ({summary}):\n" + "\n".join(
        f"- {kind} in variable {name!r} (key {key}) of process instance {instance} "
        f"({processes.get(instance, '?')})"
        for kind, name, key, instance in leaks[:20]
    )
