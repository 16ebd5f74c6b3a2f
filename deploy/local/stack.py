"""The local stack: `python -m deploy.local.stack up|down|status|install`.

Starts, on 127.0.0.1 only: PostgreSQL (unless DATABASE_URL points elsewhere), OpenSearch
(Camunda 8.6's secondary storage), the Camunda orchestration cluster (Zeebe, Operate,
Tasklist, REST), the local SMTP mailbox, migrations, diagram deployment, our API and workers.
Everything lives under the data folder (default .data/): installs, data, logs, pid files.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.local import install, processes, versions
from deploy.local.processes import RunDirs
from services.config import LOCAL_DATABASE_URL

REPO = Path(__file__).resolve().parents[2]


def _say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - CLI output


@dataclass(frozen=True)
class Layout:
    data: Path

    @property
    def opt(self) -> Path:
        return self.data / "opt"

    @property
    def dirs(self) -> RunDirs:
        return RunDirs(self.data)

    @classmethod
    def from_env(cls) -> Layout:
        data = Path(os.environ.get("DATA_DIR", REPO / ".data")).resolve()
        data.mkdir(parents=True, exist_ok=True)
        return cls(data)


def _python_bin(name: str) -> str:
    """A console script of our package, from the interpreter running this module."""
    return str(Path(sys.executable).with_name(name))


# ---------------------------------------------------------------- PostgreSQL


def _pg_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not found and processes.running_as_root():
        _say("PostgreSQL server not found: installing Debian's postgresql package")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "postgresql"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("No PostgreSQL server binaries found; install PostgreSQL 15+")
    return Path(found[-1]).parent


def start_postgres(layout: Layout, user: str | None) -> None:
    if os.environ.get("DATABASE_URL"):
        _say("postgres    external (DATABASE_URL is set)")
        return
    dirs = layout.dirs
    if processes.read_pid(dirs, "postgres"):
        _say("postgres    already running on 127.0.0.1:5432")
        return
    if processes.port_open(versions.PORTS["postgres"]):
        raise RuntimeError("Port 5432 is taken by another PostgreSQL; set DATABASE_URL to use it")
    bindir = _pg_bindir()
    pgdata = layout.data / "postgres"
    sockets = layout.data / "run" / "pg"
    sockets.mkdir(parents=True, exist_ok=True)
    processes.chown_tree(sockets, user)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        processes.chown_tree(pgdata, user)
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ],
            check=True,
            user=user,
            stdout=subprocess.DEVNULL,
        )
        fresh = True
    else:
        fresh = False
    processes.spawn(
        dirs,
        "postgres",
        [
            str(bindir / "postgres"),
            "-D",
            str(pgdata),
            "-p",
            "5432",
            "-k",
            str(sockets),
            "-c",
            "listen_addresses=127.0.0.1",
        ],
        user=user,
    )
    processes.wait_until(
        "PostgreSQL",
        lambda: processes.port_open(5432),
        timeout=60,
        alive=lambda: processes.read_pid(dirs, "postgres") is not None,
        log=dirs.log_file("postgres"),
    )
    if fresh:
        psql = [
            str(bindir / "psql"),
            "-h",
            str(sockets),
            "-p",
            "5432",
            "-U",
            "postgres",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
        ]
        for sql in (
            "CREATE ROLE kalite LOGIN PASSWORD 'kalite' CREATEDB",
            "CREATE DATABASE kalite OWNER kalite",
            "CREATE DATABASE kalite_test OWNER kalite",
        ):
            subprocess.run([*psql, "-c", sql], check=True, user=user)
    _say("postgres    started on 127.0.0.1:5432 (database kalite, user kalite)")


# ---------------------------------------------------------------- OpenSearch


def start_opensearch(layout: Layout, user: str | None, java_home: Path) -> None:
    dirs = layout.dirs
    url = f"http://127.0.0.1:{versions.PORTS['opensearch']}"
    if processes.read_pid(dirs, "opensearch"):
        _say(f"opensearch  already running on {url}")
        return
    home = install.install_opensearch(layout.opt)
    conf = layout.data / "opensearch" / "config"
    data = layout.data / "opensearch" / "data"
    logs = layout.dirs.logs / "opensearch"
    for path in (conf, data, logs):
        path.mkdir(parents=True, exist_ok=True)
    (conf / "log4j2.properties").write_bytes((home / "config" / "log4j2.properties").read_bytes())
    (conf / "jvm.options").write_text(
        "\n".join(
            [
                "-Xms512m",
                "-Xmx512m",
                "-XX:+UseG1GC",
                "-Djava.io.tmpdir=${OPENSEARCH_TMPDIR}",
                f"-XX:ErrorFile={logs}/hs_err_pid%p.log",
                "-Djava.security.manager=allow",
                f"-Djava.security.policy={home / 'config' / 'icu.policy'}",
                "-Djava.util.concurrent.ForkJoinPool.common.threadFactory="
                "org.opensearch.secure_sm.SecuredForkJoinWorkerThreadFactory",
            ]
        )
        + "\n"
    )
    (conf / "opensearch.yml").write_text(
        "cluster.name: kalite-local\n"
        "node.name: local\n"
        f"path.data: {data}\n"
        f"path.logs: {logs}\n"
        "network.host: 127.0.0.1\n"
        f"http.port: {versions.PORTS['opensearch']}\n"
        "transport.port: 9300\n"
        "discovery.type: single-node\n"
        # Development machines are often short of disk; do not turn indices read-only.
        "cluster.routing.allocation.disk.threshold_enabled: false\n"
    )
    for path in (layout.data / "opensearch", logs):
        processes.chown_tree(path, user)
    processes.spawn(
        dirs,
        "opensearch",
        [str(home / "bin" / "opensearch")],
        env={
            "OPENSEARCH_JAVA_HOME": str(java_home),
            "OPENSEARCH_PATH_CONF": str(conf),
            "JAVA_HOME": str(java_home),
        },
        cwd=home,
        user=user,
    )
    processes.wait_until(
        "OpenSearch",
        lambda: processes.http_ok(f"{url}/_cluster/health?wait_for_status=yellow&timeout=1s"),
        timeout=180,
        alive=lambda: processes.read_pid(dirs, "opensearch") is not None,
        log=dirs.log_file("opensearch"),
    )
    _say(f"opensearch  started on {url}")


# ---------------------------------------------------------------- Camunda


def _camunda_config(layout: Layout) -> Path:
    search = f"http://127.0.0.1:{versions.PORTS['opensearch']}"
    gateway = f"127.0.0.1:{versions.PORTS['zeebe_grpc']}"
    config = layout.data / "camunda" / "application.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    section = (
        "    database: opensearch\n"
        "    opensearch:\n"
        f"      url: {search}\n"
        "    zeebe:\n"
        f"      gatewayAddress: {gateway}\n"
        f"      restAddress: http://127.0.0.1:{versions.PORTS['camunda_http']}\n"
        "    zeebeOpensearch:\n"
        f"      url: {search}\n"
        "      prefix: zeebe-record\n"
        # No archiving into dated indices: without OpenSearch's ISM plugin, Tasklist 8.6 cannot
        # start again once such indices exist (it asks ISM about them). Local data stays small.
        "    archiverEnabled: false\n"
        "    archiver:\n"
        "      enabled: false\n"
        "      ilmEnabled: false\n"
    )
    config.write_text(
        "zeebe:\n"
        "  broker:\n"
        "    gateway:\n"
        "      enable: true\n"
        "      network:\n"
        "        host: 127.0.0.1\n"
        f"        port: {versions.PORTS['zeebe_grpc']}\n"
        "    network:\n"
        "      host: 127.0.0.1\n"
        "    data:\n"
        f"      directory: {layout.data / 'camunda' / 'zeebe'}\n"
        "    cluster:\n"
        "      clusterSize: 1\n"
        "      replicationFactor: 1\n"
        "      partitionsCount: 1\n"
        "    threads:\n"
        "      cpuThreadCount: 1\n"
        "      ioThreadCount: 1\n"
        "    exporters:\n"
        "      opensearch:\n"
        "        className: io.camunda.zeebe.exporter.opensearch.OpensearchExporter\n"
        "        args:\n"
        f"          url: {search}\n"
        "          bulk:\n"
        "            delay: 1\n"
        "            size: 100\n"
        "          index:\n"
        "            prefix: zeebe-record\n"
        "camunda:\n"
        "  database:\n"
        "    type: opensearch\n"
        f"    url: {search}\n"
        f"  operate:\n{section}"
        f"  tasklist:\n{section}"
        "server:\n"
        "  address: 127.0.0.1\n"
        f"  port: {versions.PORTS['camunda_http']}\n"
        "management:\n"
        "  server:\n"
        f"    port: {versions.PORTS['camunda_management']}\n"
    )
    return config


def start_camunda(layout: Layout, java_home: Path) -> None:
    dirs = layout.dirs
    ready_url = f"http://127.0.0.1:{versions.PORTS['camunda_management']}/actuator/health/readiness"
    if processes.read_pid(dirs, "camunda"):
        _say("camunda     already running (gRPC 127.0.0.1:26500, http://127.0.0.1:8080)")
        return
    home = install.install_camunda(layout.opt)
    config = _camunda_config(layout)
    processes.spawn(
        dirs,
        "camunda",
        [str(home / "bin" / "camunda")],
        env={
            "JAVA_HOME": str(java_home),
            "JAVA_OPTS": os.environ.get("CAMUNDA_JAVA_OPTS", "-Xms512m -Xmx1536m"),
            "SPRING_CONFIG_ADDITIONAL_LOCATION": f"file:{config}",
        },
        cwd=home,
    )
    processes.wait_until(
        "Camunda",
        lambda: processes.http_ok(ready_url, expect=lambda b: b'"UP"' in b[:20]),
        timeout=300,
        alive=lambda: processes.read_pid(dirs, "camunda") is not None,
        log=dirs.log_file("camunda"),
    )
    _say("camunda     started: gRPC 127.0.0.1:26500, REST/Tasklist/Operate http://127.0.0.1:8080")


# ---------------------------------------------------------------- our processes


def _app_env(layout: Layout) -> dict[str, str]:
    return {
        "DATA_DIR": str(layout.data),
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": os.environ.get("DATABASE_URL", LOCAL_DATABASE_URL),
    }


def start_ours(layout: Layout) -> None:
    dirs = layout.dirs
    env = _app_env(layout)
    if processes.read_pid(dirs, "mailbox"):
        _say("mailbox     already running (SMTP 127.0.0.1:2525)")
    else:
        start_mailbox(layout)
        _say(f"mailbox     started: SMTP 127.0.0.1:2525, messages in {layout.data / 'mailbox'}")
    if processes.read_pid(dirs, "identity"):
        _say("identity    already running on http://127.0.0.1:8070")
    else:
        processes.spawn(dirs, "identity", [_python_bin("kalite-identity"), "serve"], env=env, cwd=REPO)
        processes.wait_until(
            "Identity",
            lambda: processes.http_ok("http://127.0.0.1:8070/.well-known/openid-configuration"),
            timeout=30,
            alive=lambda: processes.read_pid(dirs, "identity") is not None,
            log=dirs.log_file("identity"),
        )
        _say("identity    started on http://127.0.0.1:8070 (local sample users, password demo)")
    subprocess.run(
        [_python_bin("alembic"), "upgrade", "head"], check=True, cwd=REPO, env={**os.environ, **env}
    )
    _say("migrations  database at head")
    _say(f"keys        local channel keys in {local_channel_keys(layout)}")
    subprocess.run([_python_bin("kalite-deploy")], check=True, cwd=REPO, env={**os.environ, **env})
    if processes.read_pid(dirs, "api"):
        _say("api         already running on http://127.0.0.1:8000")
    else:
        processes.spawn(dirs, "api", [_python_bin("kalite-api")], env=env, cwd=REPO)
        processes.wait_until(
            "API",
            lambda: processes.http_ok("http://127.0.0.1:8000/health"),
            timeout=60,
            alive=lambda: processes.read_pid(dirs, "api") is not None,
            log=dirs.log_file("api"),
        )
        _say("api         started on http://127.0.0.1:8000 (OpenAPI at /docs)")
    if processes.read_pid(dirs, "workers"):
        _say("workers     already running")
    else:
        start_workers(layout)
        _say("workers     started")


def start_mailbox(layout: Layout) -> None:
    """The local SMTP mailbox, ready when its port accepts connections (also used by the tests
    that stop it to play a mail server outage)."""
    dirs = layout.dirs
    processes.spawn(dirs, "mailbox", [_python_bin("kalite-mailbox")], env=_app_env(layout), cwd=REPO)
    processes.wait_until(
        "Mailbox",
        lambda: processes.port_open(versions.PORTS["smtp"]),
        timeout=30,
        alive=lambda: processes.read_pid(dirs, "mailbox") is not None,
        log=dirs.log_file("mailbox"),
    )


def start_workers(layout: Layout) -> None:
    dirs = layout.dirs
    processes.spawn(dirs, "workers", [_python_bin("kalite-workers")], env=_app_env(layout), cwd=REPO)
    time.sleep(2)
    if processes.read_pid(dirs, "workers") is None:
        raise RuntimeError(f"Workers exited during start-up; see {dirs.log_file('workers')}")


def local_channel_keys(layout: Layout) -> Path:
    """One working API key per channel for local use, kept in a 0600 file (made again when the
    database no longer knows them)."""
    from services import api_keys
    from services.bootstrap import bootstrap

    path = layout.data / "secrets" / "channel-keys.json"
    container = bootstrap()
    try:
        if path.exists():
            known = json.loads(path.read_text())
            if all(api_keys.lookup(container.uow, secret) for secret in known.values()):
                return path
            for channel in api_keys.CHANNELS:
                with contextlib.suppress(api_keys.ApiKeyRefused):
                    api_keys.revoke(container.uow, name=f"yerel-{channel}")
        keys = {
            channel: api_keys.create(
                container.uow, name=f"yerel-{channel}", channel=channel, requests_per_minute=6000
            )
            for channel in api_keys.CHANNELS
        }
    finally:
        container.close()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(json.dumps(keys, indent=2))
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------- commands


def up() -> None:
    layout = Layout.from_env()
    started = time.monotonic()
    user = processes.ensure_service_user()
    java_home = install.find_java_home()
    start_postgres(layout, user)
    start_opensearch(layout, user, java_home)
    start_camunda(layout, java_home)
    start_ours(layout)
    _say(
        f"\nReady in {time.monotonic() - started:.0f} s.\n"
        "  API            http://127.0.0.1:8000        (OpenAPI: /docs, health: /health)\n"
        "  Tasklist       http://127.0.0.1:8080/tasklist  (demo / demo)\n"
        "  Operate        http://127.0.0.1:8080/operate   (demo / demo)\n"
        "  Staff tokens   http://127.0.0.1:8070/token     (users in deploy/local/users.json, password demo)\n"
        f"  Channel keys   {layout.data / 'secrets' / 'channel-keys.json'} (header X-API-Key)\n"
        "  Zeebe gRPC     127.0.0.1:26500\n"
        f"  Mailbox        SMTP 127.0.0.1:2525, messages in {layout.data / 'mailbox'}\n"
        f"  Logs           {layout.dirs.logs}\n"
    )


def down() -> None:
    layout = Layout.from_env()
    for name in ("workers", "api", "identity", "mailbox", "camunda", "opensearch", "postgres"):
        # PostgreSQL's SIGTERM is a "smart" shutdown that can wait minutes for a spread
        # checkpoint; SIGINT is its "fast" shutdown: clients out, one checkpoint, clean exit.
        sig = signal.SIGINT if name == "postgres" else signal.SIGTERM
        if processes.stop(layout.dirs, name, timeout=90, sig=sig):
            _say(f"{name:<11} stopped")


def status() -> int:
    layout = Layout.from_env()
    all_up = True
    for name in ("postgres", "opensearch", "camunda", "mailbox", "identity", "api", "workers"):
        pid = processes.read_pid(layout.dirs, name)
        all_up &= pid is not None or (name == "postgres" and bool(os.environ.get("DATABASE_URL")))
        _say(f"{name:<11} {'running (pid ' + str(pid) + ')' if pid else 'stopped'}")
    return 0 if all_up else 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "install"])
    args = parser.parse_args()
    if args.command == "up":
        up()
    elif args.command == "down":
        down()
    elif args.command == "status":
        sys.exit(status())
    else:
        layout = Layout.from_env()
        install.install_opensearch(layout.opt)
        install.install_camunda(layout.opt)
        _say(f"Java for the engine: {install.find_java_home()}")


if __name__ == "__main__":
    main()
