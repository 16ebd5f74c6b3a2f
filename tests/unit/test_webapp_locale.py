"""Tasklist, Cockpit, Admin and Welcome speak Turkish: our tr.json and config.js against the web apps
of the Operaton version we serve, read from its webjar in the local Maven repository (`make up`'s
build puts it there; missing is a failure).

Every English key has a Turkish value (nested keys and lists alike), no more and no fewer; every
`{{placeholder}}` and HTML tag of the English text is in the Turkish one; nothing is left empty
that English fills. Our config.js is the shipped one with the Turkish default added, nothing lost.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from deploy.local import engine

APPS = ("tasklist", "cockpit", "admin", "welcome")
WEBJAR_ROOT = "META-INF/resources/webjars/operaton/app"
OURS = engine.SOURCES / "src/main/resources" / WEBJAR_ROOT
PLACEHOLDER = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")
HTML_TAG = re.compile(r"</?(?:a|b|br|code|em|i|p|span|strong)\b[^>]*>")
# Shipped config.js: the commented-out locales example our file replaces with a live setting.
SHIPPED_LOCALES_EXAMPLE = re.compile(r"  // ['\"]locales['\"]: \{\n(?:  //.*\n){2}  //\s*\},\n")
OUR_LOCALES = (
    "  // Turkish for every browser, whatever its language (add 'en' to offer English to English browsers).\n"
    "  locales: {\n"
    "    availableLocales: ['tr'],\n"
    "    fallbackLocale: 'tr'\n"
    "  },\n"
)
# The sign-out script of single sign-on (deploy/engine SsoConfiguration; a no-op without it).
OUR_SCRIPTS = (
    "  // Single sign-on (Spring profile oidc): the sign-out also ends the identity provider's session.\n"
    "  customScripts: ['../belediye/sso'],\n"
)


@pytest.fixture(scope="module")
def webjar() -> Iterator[zipfile.ZipFile]:
    jar = engine.webjar()
    if not jar.exists():
        pytest.fail(f"{jar} is missing: build the engine first (make up, or deploy.local.engine.build)")
    with zipfile.ZipFile(jar) as opened:
        yield opened


def _shipped(webjar: zipfile.ZipFile, path: str) -> str:
    return webjar.read(f"{WEBJAR_ROOT}/{path}").decode("utf-8-sig")


def _ours(path: str) -> str:
    return (OURS / path).read_text(encoding="utf-8")


def _leaves(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every value with its path: `labels.SAVE`, `dateLocales.months[0]`, `dateLocales.week.dow`."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, f"{path}[{index}]")
    else:
        yield path, node


@pytest.mark.parametrize("app", APPS)
def test_turkish_has_exactly_the_english_keys(webjar: zipfile.ZipFile, app: str) -> None:
    english = dict(_leaves(json.loads(_shipped(webjar, f"{app}/locales/en.json"))))
    turkish = dict(_leaves(json.loads(_ours(f"{app}/locales/tr.json"))))
    missing, extra = sorted(english.keys() - turkish.keys()), sorted(turkish.keys() - english.keys())
    assert (missing, extra) == ([], []), f"{app}: translate {missing[:20]}; drop {extra[:20]}"
    wrong_type = [p for p, v in english.items() if type(turkish[p]) is not type(v)]
    assert wrong_type == [], f"{app}: {wrong_type[:20]}"


@pytest.mark.parametrize("app", APPS)
def test_every_value_is_translated_with_its_placeholders_and_tags(webjar: zipfile.ZipFile, app: str) -> None:
    english = dict(_leaves(json.loads(_shipped(webjar, f"{app}/locales/en.json"))))
    turkish = dict(_leaves(json.loads(_ours(f"{app}/locales/tr.json"))))
    problems: list[str] = []
    for path, source in english.items():
        if not isinstance(source, str):
            continue
        target = turkish.get(path)
        if not isinstance(target, str):
            continue  # reported by the key test
        if source.strip() and not target.strip():
            problems.append(f"{path}: empty")
        if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(target)):
            problems.append(f"{path}: placeholders {PLACEHOLDER.findall(source)} -> {target!r}")
        if sorted(HTML_TAG.findall(source)) != sorted(HTML_TAG.findall(target)):
            problems.append(f"{path}: HTML {HTML_TAG.findall(source)} -> {target!r}")
    assert problems == [], f"{app}: {problems[:20]}"


def test_the_translation_is_turkish() -> None:
    """Not English copied over: the words staff read most are the Turkish ones."""
    tasklist = json.loads(_ours("tasklist/locales/tr.json"))["labels"]
    assert (tasklist["CLAIM_TASK"], tasklist["COMPLETE"], tasklist["SEARCH_PLACEHOLDER"]) == (
        "Üstlen",
        "Tamamla",
        "Görevleri filtrele",
    )
    assert json.loads(_ours("cockpit/locales/tr.json"))["dateLocales"]["months"][1] == "Şubat"


@pytest.mark.parametrize("app", APPS)
def test_config_is_the_shipped_one_with_turkish_by_default(webjar: zipfile.ZipFile, app: str) -> None:
    shipped = _shipped(webjar, f"{app}/scripts/config.js")
    ours = _ours(f"{app}/scripts/config.js")
    assert OUR_LOCALES in ours, f"{app}: the Turkish default is missing"
    assert OUR_SCRIPTS in ours, f"{app}: the single sign-on sign-out script is missing"
    assert len(SHIPPED_LOCALES_EXAMPLE.findall(shipped)) == 1, f"{app}: shipped config.js changed shape"
    # Our own header comment, the live locales block and the sign-out script aside, the file is
    # the shipped one.
    ours_rest = re.sub(r"\n// Changed for Belediye Hizmet Takip:.*?\n\n", "\n", ours, flags=re.S)
    ours_rest = ours_rest.replace(OUR_LOCALES, "").replace(OUR_SCRIPTS, "")
    assert ours_rest == SHIPPED_LOCALES_EXAMPLE.sub("", shipped)
