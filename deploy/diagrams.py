"""Deploy everything under bpmn/ (diagrams, forms, decision tables) to the engine.

Idempotent: each file is its own deployment, and Zeebe keeps the current version of a resource
whose content did not change (a deployment with several files would version them all when one
changes). Forms go first: a diagram links them by id. Usage: `kalite-deploy [--dir bpmn]`.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from pyzeebe import ZeebeClient, create_insecure_channel
from pyzeebe.grpc_internals.types import DeployResourceResponse

from services.config import get_settings

REPO = Path(__file__).resolve().parents[1]
RESOURCE_SUFFIXES = (".bpmn", ".dmn", ".form")


def find_resources(root: Path) -> list[Path]:
    found = [p for p in root.rglob("*") if p.suffix in RESOURCE_SUFFIXES and p.is_file()]
    return sorted(found, key=lambda p: (p.suffix != ".form", p.suffix != ".dmn", p.name))


def describe(response: DeployResourceResponse) -> list[str]:
    lines = []
    for item in response.deployments:
        if isinstance(item, DeployResourceResponse.ProcessMetadata):
            lines.append(
                f"process  {item.bpmn_process_id:<28} version {item.version:<4} {item.resource_name}"
            )
        elif isinstance(item, DeployResourceResponse.FormMetadata):
            lines.append(f"form     {item.form_id:<28} version {item.version:<4} {item.resource_name}")
        elif isinstance(item, DeployResourceResponse.DecisionMetadata):
            lines.append(f"decision {item.dmn_decision_id:<28} version {item.version:<4}")
    return lines


async def deploy(root: Path, gateway_address: str) -> list[DeployResourceResponse]:
    resources = find_resources(root)
    if not resources:
        raise SystemExit(f"No .bpmn, .dmn or .form files under {root}")
    channel = create_insecure_channel(grpc_address=gateway_address)
    try:
        client = ZeebeClient(channel)
        return [await client.deploy_resource(resource) for resource in resources]
    finally:
        await channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="kalite-deploy", description=__doc__)
    parser.add_argument("--dir", type=Path, default=REPO / "bpmn", help="folder to deploy")
    args = parser.parse_args()
    for response in asyncio.run(deploy(args.dir, get_settings().zeebe_gateway_address)):
        for line in describe(response):
            print(line)  # noqa: T201 - CLI output


if __name__ == "__main__":
    main()
