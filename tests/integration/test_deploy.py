"""A process owner changes a diagram and redeploys it: kalite-deploy says what changed and which
version runs; a waiting instance finishes on its own version, new instances use the new one."""

from __future__ import annotations

from pathlib import Path

import httpx

from services.operaton import Operaton
from tests.integration.citizen import complete, end_objection_period, instance_of, submit, wait_status
from tests.integration.modeler import deploy
from tests.integration.tasklist import wait_for_state, wait_for_task

REPO = Path(__file__).resolve().parents[2]


def _version(line: str) -> int:
    return int(line.split("→ version ")[1].split()[0])


def test_a_changed_diagram_gets_a_new_version_while_a_waiting_instance_keeps_its_own(
    api: httpx.Client, engine: Operaton, tmp_path: Path
) -> None:
    before = deploy(REPO / "bpmn")
    assert all(" unchanged " in line for line in before.values()), before
    old_version = _version(before["birim-istek"])

    tracking_old, _ = submit(api)
    old_instance = instance_of(tracking_old)
    wait_for_task(engine, old_instance, "talebi-degerlendir")

    # In Modeler: the staff step gets a clearer name; saved into a copy and deployed.
    copy = tmp_path / "bpmn"
    copy.mkdir()
    original = (REPO / "bpmn" / "birim-istek.bpmn").read_text(encoding="utf-8")
    changed = original.replace('name="Talebi değerlendir — ', 'name="Talebi değerlendir ve sonuçlandır — ')
    assert changed != original
    (copy / "birim-istek.bpmn").write_text(changed, encoding="utf-8")
    try:
        after = deploy(copy)["birim-istek"]
        assert " changed " in after and _version(after) == old_version + 1
        assert f"(was {old_version})" in after

        tracking_new, _ = submit(api)
        new_instance = instance_of(tracking_new)
        new_task = wait_for_task(engine, new_instance, "talebi-degerlendir")
        assert (
            new_task.name
            == f"Talebi değerlendir ve sonuçlandır — {tracking_new} · Yolda çukur / asfalt bozulması"
        )
        # The new version brought its forms along: staff can open the step's form.
        assert engine.deployed_form(new_task.id).get("components")
        assert wait_for_state(engine, new_instance, "ACTIVE")["processDefinitionVersion"] == old_version + 1

        # The waiting instance carries on and finishes on the version it started with.
        old_task = complete(
            engine,
            old_instance,
            "talebi-degerlendir",
            {"outcome": "yapildi", "resolution": "Yapıldı."},
            assignee="yol.personel",
        )
        assert old_task.name == f"Talebi değerlendir — {tracking_old} · Yolda çukur / asfalt bozulması"
        complete(
            engine,
            old_instance,
            "kapatma-kontrolu",
            {"closureDecision": "uygun", "closureNote": ""},
            assignee="halkla.iliskiler",
        )
        wait_status(tracking_old, "kapatildi")
        finished = end_objection_period(engine, old_instance)
        assert finished["processDefinitionVersion"] == old_version
    finally:
        restored = deploy(REPO / "bpmn")["birim-istek"]
    assert " changed " in restored and _version(restored) == old_version + 2
