"""The local stack's shape: how many engine nodes, API processes and worker processes run, on which
ports, and the HAProxy load balancer in front of them when there is more than one.

`make up` reads ENGINE_NODES, API_PROCESSES and WORKER_PROCESSES (default 1 each: the one-node
stack, no balancer, the ports as always). A part with more than one copy gets numbered processes
on ports of their own and the balancer takes over the part's usual port, so every client (the
workers, the API, Tasklist in a browser, the tests) keeps using the same address. The shape that
was started is kept in <data>/run/topology.json for `make fault`, `make bench` and `make down`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from deploy.local import versions

HERE = Path(__file__).resolve().parent
MOST = 4  # copies of one part: the numbered ports below leave room for this many
# The single process of a part keeps the name and ports it always had.
ENGINE_MANAGEMENT_PORT = 8081
WORKER_HTTP_PORT = 9100
# Numbered copies: engine node i on 8090+i (management 8190+i), API process i on 8010+i,
# worker process i with its probes on 9100+i.
ENGINE_NODE_PORT, ENGINE_NODE_MANAGEMENT_PORT = 8090, 8190
API_PROCESS_PORT = 8010
BALANCER_STATS_PORT = 8404  # HAProxy's own page and /metrics (Prometheus)


@dataclass(frozen=True)
class Member:
    """One process of a part: its pid/log name, its HTTP port and, where it has one, the port of
    its probes."""

    name: str
    port: int
    probe_port: int | None = None


class TopologyInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Topology:
    engine_nodes: int = 1
    api_processes: int = 1
    worker_processes: int = 1

    def __post_init__(self) -> None:
        for part, count in asdict(self).items():
            if not 1 <= count <= MOST:
                raise TopologyInvalid(f"{part.upper()} must be between 1 and {MOST}, not {count}")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Topology:
        env = dict(os.environ) if env is None else env
        counts = {}
        for part in ("engine_nodes", "api_processes", "worker_processes"):
            raw = env.get(part.upper(), "1").strip() or "1"
            try:
                counts[part] = int(raw)
            except ValueError:
                raise TopologyInvalid(f"{part.upper()} must be a whole number, not {raw!r}") from None
        return cls(**counts)

    # ------------------------------------------------------------ the members

    @property
    def engines(self) -> list[Member]:
        if self.engine_nodes == 1:
            return [Member("engine", versions.PORTS["engine_http"], ENGINE_MANAGEMENT_PORT)]
        return [
            Member(f"engine-{i}", ENGINE_NODE_PORT + i, ENGINE_NODE_MANAGEMENT_PORT + i)
            for i in range(1, self.engine_nodes + 1)
        ]

    @property
    def apis(self) -> list[Member]:
        if self.api_processes == 1:
            return [Member("api", versions.PORTS["api"])]
        return [Member(f"api-{i}", API_PROCESS_PORT + i) for i in range(1, self.api_processes + 1)]

    @property
    def workers(self) -> list[Member]:
        if self.worker_processes == 1:
            return [Member("workers", WORKER_HTTP_PORT)]
        return [Member(f"workers-{i}", WORKER_HTTP_PORT + i) for i in range(1, self.worker_processes + 1)]

    @property
    def balanced(self) -> bool:
        """Whether the load balancer runs: some part the clients reach over HTTP has copies."""
        return self.engine_nodes > 1 or self.api_processes > 1

    def describe(self) -> str:
        return (
            f"{self.engine_nodes} engine node(s), {self.api_processes} API process(es), "
            f"{self.worker_processes} worker process(es)"
        )

    # ------------------------------------------------------------ kept for the other commands

    def save(self, run: Path) -> None:
        run.mkdir(parents=True, exist_ok=True)
        (run / "topology.json").write_text(json.dumps(asdict(self)))

    @classmethod
    def started(cls, run: Path) -> Topology:
        """The shape `make up` started (the one-node stack when it left no record)."""
        try:
            return cls(**json.loads((run / "topology.json").read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return cls()


def balancer_config(topology: Topology, *, port_offset: int = 0) -> str:
    """HAProxy's configuration for the shape (deploy/local/haproxy.cfg.j2); `port_offset` moves
    every port, for a test beside a running stack."""

    def moved(members: list[Member]) -> list[Member]:
        return [
            Member(m.name, m.port + port_offset, m.probe_port + port_offset if m.probe_port else None)
            for m in members
        ]

    templates = Environment(
        loader=FileSystemLoader(HERE),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        autoescape=False,  # noqa: S701 - a configuration file, not HTML
    )
    return templates.get_template("haproxy.cfg.j2").render(
        topology=topology,
        engines=moved(topology.engines),
        apis=moved(topology.apis),
        engine_port=versions.PORTS["engine_http"] + port_offset,
        api_port=versions.PORTS["api"] + port_offset,
        stats_port=BALANCER_STATS_PORT + port_offset,
    )
