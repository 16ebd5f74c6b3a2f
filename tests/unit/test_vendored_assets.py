"""Leaflet is served from our own files (no outside host): they must be exactly the npm release
pinned in tests/bpmnlint/package.json, which `make install` fetches, so the copy cannot drift or
be edited by hand. Updating = bump the version there, `npm install`, copy dist/ again."""

from __future__ import annotations

import json
from pathlib import Path

from services.web.pages import STATIC

REPO = Path(__file__).resolve().parents[2]
NODE = REPO / "tests" / "bpmnlint"
VENDORED = Path(STATIC) / "vendor" / "leaflet"


def test_the_served_leaflet_is_the_pinned_npm_release_unmodified() -> None:
    pinned = json.loads((NODE / "package.json").read_text())["devDependencies"]["leaflet"]
    release = NODE / "node_modules" / "leaflet"
    assert json.loads((release / "package.json").read_text())["version"] == pinned
    served = sorted(p.relative_to(VENDORED) for p in VENDORED.rglob("*") if p.is_file())
    assert Path("leaflet.js") in served and Path("LICENSE") in served
    for name in served:
        source = release / "LICENSE" if name == Path("LICENSE") else release / "dist" / name
        assert source.read_bytes() == (VENDORED / name).read_bytes(), f"{name} differs from leaflet {pinned}"
