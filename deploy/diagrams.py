"""Deploy everything under bpmn/ (diagrams, forms, decision tables) to the engine.

Idempotent: Zeebe keeps the current version of a resource whose content did not change,
so running this again deploys nothing new. Usage: `kalite-deploy [--dir bpmn]`.
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
    return sorted(p for p in root.rglob("*") if p.suffix in RESOURCE_SUFFIXES and p.is_file())


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


async def deploy(root: Path, gateway_address: str) -> DeployResourceResponse:
    resources = find_resources(root)
    if not resources:
        raise SystemExit(f"No .bpmn, .dmn or .form files under {root}")
    channel = create_insecure_channel(grpc_address=gateway_address)
    try:
        # One deployment: a diagram and the forms it links are checked together.
        return await ZeebeClient(channel).deploy_resource(*resources)
    finally:
        await channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="kalite-deploy", description=__doc__)
    parser.add_argument("--dir", type=Path, default=REPO / "bpmn", help="folder to deploy")
    args = parser.parse_args()
    response = asyncio.run(deploy(args.dir, get_settings().zeebe_gateway_address))
    print(f"deployment {response.key}")  # noqa: T201 - CLI output
    for line in describe(response):
        print(f"  {line}")  # noqa: T201 - CLI output


if __name__ == "__main__":
    main()
