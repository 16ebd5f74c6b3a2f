"""Deploy the diagrams under bpmn/ with their forms to the engine, saying for each whether it changed
and which version the engine now runs.

Each diagram is one deployment together with the forms its user tasks link
(`camunda:formRef`, binding "deployment": Tasklist takes the form from the diagram's own
deployment). The engine's duplicate filter keeps the version of a deployment whose files did not
change. Every new version is recorded in PostgreSQL (`process_deployments`: file, id, version,
definition id, SHA-256, time), which is also how a later run knows what changed. Running instances
stay on the version they started with; new ones take the new version.
Usage: `kalite-deploy [--dir bpmn]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from services.config import get_settings
from services.db import UnitOfWork, UnitOfWorkFactory, make_engine
from services.models import ProcessDeployment
from services.operaton import Operaton

REPO = Path(__file__).resolve().parents[1]
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"


@dataclass(frozen=True)
class Deployed:
    kind: str
    resource_id: str
    resource_name: str
    version: int
    definition_id: str
    sha256: str
    status: str = ""  # new / changed / unchanged / recorded (first seen by the ledger)
    previous_version: int | None = None

    def line(self) -> str:
        was = f" (was {self.previous_version})" if self.status == "changed" and self.previous_version else ""
        return (
            f"{self.kind:<8} {self.resource_id:<28} {self.status:<9} → version {self.version}{was:<10} "
            f"{self.resource_name}"
        )


def find_diagrams(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*.bpmn") if p.is_file())


def form_ids(diagram: Path) -> list[str]:
    """The forms a diagram's user tasks link, in order of appearance."""
    tree = ET.parse(diagram)  # noqa: S314 - our own repository's files
    found: list[str] = []
    for task in tree.iter(f"{BPMN}userTask"):
        ref = task.get(f"{CAMUNDA}formRef")
        if ref and ref not in found:
            found.append(ref)
    return found


def process_ids(diagram: Path) -> list[str]:
    tree = ET.parse(diagram)  # noqa: S314 - our own repository's files
    return [p.get("id", "") for p in tree.iter(f"{BPMN}process") if p.get("isExecutable") == "true"]


def find_form(form_id: str, folders: list[Path]) -> Path:
    for folder in folders:
        for path in sorted(folder.glob("*.form")):
            if json.loads(path.read_text(encoding="utf-8")).get("id") == form_id:
                return path
    raise SystemExit(f"No form with id {form_id!r} in {', '.join(map(str, folders))}")


def sha256_of(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def record(uow_factory: UnitOfWorkFactory, deployed: Deployed) -> Deployed:
    """Compare with the last recorded version of this resource, and record a new one."""
    with uow_factory() as uow:
        last = uow.session.scalar(
            select(ProcessDeployment)
            .where(
                ProcessDeployment.kind == deployed.kind, ProcessDeployment.resource_id == deployed.resource_id
            )
            .order_by(ProcessDeployment.deployed_at.desc(), ProcessDeployment.version.desc())
            .limit(1)
        )
        if last is None:
            status = "new" if deployed.version == 1 else "recorded"
        elif last.version == deployed.version and last.definition_id == deployed.definition_id:
            status = "unchanged"
        else:
            status = "changed"
        if status != "unchanged":
            uow.session.add(
                ProcessDeployment(
                    resource_name=deployed.resource_name,
                    kind=deployed.kind,
                    resource_id=deployed.resource_id,
                    version=deployed.version,
                    definition_id=deployed.definition_id,
                    sha256=deployed.sha256,
                )
            )
            uow.commit()
        return Deployed(
            **{**deployed.__dict__, "status": status, "previous_version": last.version if last else None}
        )


def deploy(root: Path, engine: Operaton, uow_factory: UnitOfWorkFactory) -> list[Deployed]:
    diagrams = find_diagrams(root)
    if not diagrams:
        raise SystemExit(f"No .bpmn files under {root}")
    form_folders = [root / "forms", REPO / "bpmn" / "forms"]
    results = []
    for diagram in diagrams:
        forms = [find_form(form_id, form_folders) for form_id in form_ids(diagram)]
        files = [diagram, *forms]
        sha256 = sha256_of(files)
        engine.deploy(diagram.stem, files, source="kalite-deploy")
        # The duplicate filter answers an unchanged deployment without definitions: ask which runs.
        for process_id in process_ids(diagram):
            definition = engine.latest_definition(process_id)
            deployed = Deployed(
                "process", definition["key"], diagram.name, definition["version"], definition["id"], sha256
            )
            results.append(record(uow_factory, deployed))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="kalite-deploy", description=__doc__)
    parser.add_argument("--dir", type=Path, default=REPO / "bpmn", help="folder to deploy")
    args = parser.parse_args()
    settings = get_settings()
    database = make_engine(settings.database_url)
    sessions = sessionmaker(database, expire_on_commit=False)
    try:
        with Operaton(settings.engine_rest_url, settings.engine_username, settings.engine_password) as engine:
            for deployed in deploy(args.dir, engine, lambda: UnitOfWork(sessions)):
                print(deployed.line())  # noqa: T201 - CLI output
    finally:
        database.dispose()


if __name__ == "__main__":
    main()
