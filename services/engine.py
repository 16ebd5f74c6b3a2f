"""Connections to the Camunda 8 engine: Zeebe gRPC (pyzeebe) for commands and jobs."""

from __future__ import annotations

import json
from typing import Any

import grpc
from pyzeebe import ZeebeClient, create_insecure_channel
from pyzeebe.proto.gateway_pb2 import SetVariablesRequest
from pyzeebe.proto.gateway_pb2_grpc import GatewayStub


def open_channel(gateway_address: str) -> grpc.aio.Channel:
    return create_insecure_channel(grpc_address=gateway_address)


async def engine_reachable(client: ZeebeClient) -> tuple[bool, str]:
    """Ask the gateway for the topology; healthy when a broker leads partition 1."""
    try:
        topology = await client.topology()
    except Exception as error:
        return False, type(error).__name__
    for broker in topology.brokers:
        for partition in broker.partitions:
            if partition.role.name == "LEADER":
                return True, "ok"
    return False, "no partition leader"


def long_lived_client(channel: grpc.aio.Channel) -> ZeebeClient:
    """A client for processes that outlive engine restarts.

    pyzeebe closes the shared channel after `max_connection_retries` failed calls (10 by default),
    which would leave the API and the workers dead after an engine outage; -1 never gives up.
    """
    return ZeebeClient(channel, max_connection_retries=-1)


async def set_variables(
    channel: grpc.aio.Channel, element_instance_key: int, variables: dict[str, Any], *, local: bool = True
) -> None:
    """Zeebe's SetVariables (pyzeebe's client has no call for it): e.g. what a waiting task's form shows."""
    stub = GatewayStub(channel)
    await stub.SetVariables(
        SetVariablesRequest(
            elementInstanceKey=element_instance_key, variables=json.dumps(variables), local=local
        ),
        timeout=10,
    )
