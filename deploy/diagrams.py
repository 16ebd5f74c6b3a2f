"""Deploy everything under bpmn/ (diagrams, forms, decision tables) to the engine, saying for each
whether it changed and which version the engine now runs.

Each file is its own deployment: Zeebe keeps the current version of a resource whose content
did not change (a deployment with several files would version them all when one changes). Forms
go first, since a diagram links them by id. Every new version is recorded in PostgreSQL
(`process_deployments`: file, id, version, key, SHA-256, time), which is also how a later run
knows what changed. Running instances stay on the version they started with; new ones take the
new version. Usage: `kalite-deploy [--dir bpmn]`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

from pyzeebe import ZeebeClient, create_insecure_channel
from pyzeebe.grpc_internals.types import DeployResourceResponse
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from services.config import get_settings
from services.db import UnitOfWork, UnitOfWorkFactory, make_engine
from services.models import ProcessDeployment

REPO = Path(__file__).resolve().parents[1]
RESOURCE_SUFFIXES = (".bpmn", ".dmn", ".form")


@dataclass(frozen=True)
class Deployed:
    kind: str
    resource_id: str
    resource_name: str
    version: int
    key: int
    sha256: str
    status: str = ""  # new / changed / unchanged / recorded (first seen by the ledger)
    previous_version: int | None = None

    def line(self) -> str:
        was = f" (was {self.previous_version})" if self.status == "changed" and self.previous_version else ""
        return (
            f"{self.kind:<8} {self.resource_id:<28} {self.status:<9} → version {self.version}{was:<10} "
            f"{self.resource_name}"
        )


def find_resources(root: Path) -> list[Path]:
    found = [p for p in root.rglob("*") if p.suffix in RESOURCE_SUFFIXES and p.is_file()]
    return sorted(found, key=lambda p: (p.suffix != ".form", p.suffix != ".dmn", p.name))


def describe(response: DeployResourceResponse, sha256: str) -> list[Deployed]:
    found = []
    for item in response.deployments:
        if isinstance(item, DeployResourceResponse.ProcessMetadata):
            found.append(
                Deployed(
                    "process",
                    item.bpmn_process_id,
                    item.resource_name,
                    item.version,
                    item.process_definition_key,
                    sha256,
                )
            )
        elif isinstance(item, DeployResourceResponse.FormMetadata):
            found.append(
                Deployed("form", item.form_id, item.resource_name, item.version, item.form_key, sha256)
            )
        elif isinstance(item, DeployResourceResponse.DecisionMetadata):
            found.append(
                Deployed(
                    "decision",
                    item.dmn_decision_id,
                    item.dmn_decision_name,
                    item.version,
                    item.decision_key,
                    sha256,
                )
            )
    return found


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
        elif last.version == deployed.version and last.definition_key == deployed.key:
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
                    definition_key=deployed.key,
                    sha256=deployed.sha256,
                )
            )
            uow.commit()
        return Deployed(
            **{**deployed.__dict__, "status": status, "previous_version": last.version if last else None}
        )


async def deploy(root: Path, gateway_address: str, uow_factory: UnitOfWorkFactory) -> list[Deployed]:
    resources = find_resources(root)
    if not resources:
        raise SystemExit(f"No .bpmn, .dmn or .form files under {root}")
    channel = create_insecure_channel(grpc_address=gateway_address)
    results = []
    try:
        client = ZeebeClient(channel)
        for resource in resources:
            sha256 = hashlib.sha256(resource.read_bytes()).hexdigest()
            response = await client.deploy_resource(resource)
            results += [record(uow_factory, item) for item in describe(response, sha256)]
    finally:
        await channel.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="kalite-deploy", description=__doc__)
    parser.add_argument("--dir", type=Path, default=REPO / "bpmn", help="folder to deploy")
    args = parser.parse_args()
    settings = get_settings()
    engine = make_engine(settings.database_url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    try:
        for deployed in asyncio.run(
            deploy(args.dir, settings.zeebe_gateway_address, lambda: UnitOfWork(sessions))
        ):
            print(deployed.line())  # noqa: T201 - CLI output
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
