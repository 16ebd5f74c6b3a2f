"""The local cluster's shape and its load balancer: the real HAProxy with the configuration
`make up` writes, in front of small HTTP servers that stand in for the engine nodes and the API
processes (ports moved by 20000, beside a running stack)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from deploy.local import versions
from deploy.local.cluster import BALANCER_STATS_PORT, Member, Topology, TopologyInvalid, balancer_config

# The stack's ports moved out of the way of a running stack, and below the kernel's ephemeral
# range (32768–60999): there any outgoing connection of the test run may hold the port.
OFFSET = 20000


def test_the_default_shape_is_the_one_node_stack_without_a_balancer() -> None:
    topology = Topology.from_env({})
    assert not topology.balanced
    assert [(m.name, m.port, m.probe_port) for m in topology.engines] == [("engine", 8080, 8081)]
    assert [(m.name, m.port) for m in topology.apis] == [("api", 8000)]
    assert [(m.name, m.port) for m in topology.workers] == [("workers", 9100)]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ENGINE_NODES": "0"}, "ENGINE_NODES must be between 1 and 4, not 0"),
        ({"API_PROCESSES": "9"}, "API_PROCESSES must be between 1 and 4, not 9"),
        ({"WORKER_PROCESSES": "iki"}, "WORKER_PROCESSES must be a whole number, not 'iki'"),
    ],
)
def test_a_shape_out_of_range_is_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(TopologyInvalid) as refused:
        Topology.from_env(env)
    assert str(refused.value) == message


def test_every_copy_of_the_largest_shape_has_ports_of_its_own() -> None:
    topology = Topology(engine_nodes=4, api_processes=4, worker_processes=4)
    ports = [versions.PORTS[name] for name in ("engine_http", "api", "postgres", "smtp", "smpp", "identity")]
    ports += [BALANCER_STATS_PORT]
    for member in (*topology.engines, *topology.apis, *topology.workers):
        ports += [member.port, *([member.probe_port] if member.probe_port else [])]
    assert len(ports) == len(set(ports)), sorted(ports)
    assert [m.name for m in topology.engines] == ["engine-1", "engine-2", "engine-3", "engine-4"]


def test_the_shape_started_is_read_back_and_a_missing_record_means_one_node(tmp_path: Path) -> None:
    assert Topology.started(tmp_path) == Topology()
    Topology(engine_nodes=2, worker_processes=2).save(tmp_path)
    assert Topology.started(tmp_path) == Topology(engine_nodes=2, api_processes=1, worker_processes=2)


# ---------------------------------------------------------------- the balancer, for real


class _Named(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, name: str) -> None:
        self.name = name
        super().__init__(("127.0.0.1", port), _Answer)


class _Answer(BaseHTTPRequestHandler):
    server: _Named

    def do_GET(self) -> None:
        body = json.dumps(
            {
                "server": self.server.name,
                "path": self.path,
                "forwardedFor": self.headers.get_all("X-Forwarded-For") or [],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(port: int, name: str) -> _Named:
    server = _Named(port, name)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _moved(member: Member) -> tuple[int, int | None]:
    return member.port + OFFSET, (member.probe_port + OFFSET) if member.probe_port else None


@pytest.fixture
def balancer(tmp_path: Path) -> Iterator[dict[str, _Named]]:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    topology = Topology(engine_nodes=2, api_processes=2)
    servers: dict[str, _Named] = {}
    for member in (*topology.engines, *topology.apis):
        port, probe = _moved(member)
        servers[member.name] = _serve(port, member.name)
        if probe:
            servers[f"{member.name}-probe"] = _serve(probe, f"{member.name}-probe")
    config = tmp_path / "haproxy.cfg"
    config.write_text(balancer_config(topology, port_offset=OFFSET))
    checked = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    process = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=subprocess.DEVNULL)
    try:
        _wait_until_all_up()
        yield servers
    finally:
        process.terminate()
        process.wait(timeout=10)
        for server in servers.values():
            server.shutdown()
            server.server_close()


def _wait_until_all_up() -> None:
    deadline = time.monotonic() + 60  # health checks take longer on a loaded machine
    while time.monotonic() < deadline:
        try:
            metrics = httpx.get(f"http://127.0.0.1:{BALANCER_STATS_PORT + OFFSET}/metrics").text
        except httpx.HTTPError:
            metrics = ""
        up = [
            line
            for line in metrics.splitlines()
            if line.startswith("haproxy_server_status{") and 'state="UP"' in line
        ]
        if len(up) == 6 and all(line.endswith(" 1") for line in up):  # 2 REST, 2 web apps, 2 API
            return
        time.sleep(0.2)
    raise AssertionError("HAProxy did not see every server up")


ENGINE = f"http://127.0.0.1:{versions.PORTS['engine_http'] + OFFSET}"
API = f"http://127.0.0.1:{versions.PORTS['api'] + OFFSET}"


def test_engine_rest_calls_are_shared_by_the_nodes(balancer: dict[str, _Named]) -> None:
    served = {httpx.get(f"{ENGINE}/engine-rest/version").json()["server"] for _ in range(6)}
    assert served == {"engine-1", "engine-2"}


def test_a_web_app_session_stays_on_the_node_that_started_it(balancer: dict[str, _Named]) -> None:
    with httpx.Client(base_url=ENGINE) as browser:
        first = browser.get("/operaton/app/tasklist/default/")
        node = first.json()["server"]
        assert browser.cookies["BELEDIYE_NODE"] == node
        assert "httponly" in first.headers["set-cookie"].lower()
        assert {browser.get("/operaton/api/engine/engine/").json()["server"] for _ in range(6)} == {node}


def test_a_dead_node_is_passed_over_at_once_and_its_sessions_move(balancer: dict[str, _Named]) -> None:
    with httpx.Client(base_url=ENGINE, cookies={"BELEDIYE_NODE": "engine-1"}) as browser:
        assert browser.get("/operaton/app/cockpit/default/").json()["server"] == "engine-1"
        balancer["engine-1"].shutdown()
        balancer["engine-1"].server_close()
        # Before the health check notices (1 s × 2), a refused connection is sent to the other node.
        answers = [httpx.get(f"{ENGINE}/engine-rest/version") for _ in range(4)]
        assert [a.status_code for a in answers] == [200] * 4
        assert {a.json()["server"] for a in answers} == {"engine-2"}
        assert browser.get("/operaton/app/cockpit/default/").json()["server"] == "engine-2"


def test_the_api_sees_the_callers_address_and_not_what_the_caller_claims(
    balancer: dict[str, _Named],
) -> None:
    answer = httpx.get(f"{API}/basvuru", headers={"X-Forwarded-For": "203.0.113.9"}).json()
    assert answer["server"] in {"api-1", "api-2"}
    assert answer["forwardedFor"] == ["127.0.0.1"]
