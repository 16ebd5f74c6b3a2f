"""The local stack: `python -m deploy.local.stack up|down|status|install`.

Starts, on 127.0.0.1 only: PostgreSQL (unless DATABASE_URL points elsewhere), the Operaton
engine (REST, Tasklist, Cockpit, Admin; built from deploy/engine on first start) with its groups
and sample users, the local SMTP mailbox, the local SMS centre (SMPP), Keycloak (the staff's sign-in),
migrations, diagram deployment, our API and workers.
Everything lives under the data folder (default .data/): installs, data, logs, pid files.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.local import engine, keycloak, keycloak_realm, processes, versions
from deploy.local.cluster import BALANCER_STATS_PORT, Member, Topology, TopologyInvalid, balancer_config
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


# Databases that get the extensions our migrations need but our role may not create.
EXTENSION_DATABASES = (
    "SELECT datname FROM pg_database WHERE datname IN ('template1', 'kalite')"
    " OR datname LIKE 'kalite\\_test%'"
)


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
    sockets = layout.data / "run" / "pg"
    if processes.read_pid(dirs, "postgres"):
        _say("postgres    already running on 127.0.0.1:5432")
        _create_extensions(_psql(_pg_bindir(), sockets), user)
        return
    if processes.port_open(versions.PORTS["postgres"]):
        raise RuntimeError("Port 5432 is taken by another PostgreSQL; set DATABASE_URL to use it")
    bindir = _pg_bindir()
    pgdata = layout.data / "postgres"
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
            # Every engine node holds its pool of 20 (Hikari keeps it full), every API and worker
            # process up to 20: four of each in the cluster mode pass the default 100.
            "-c",
            "max_connections=300",
        ],
        user=user,
    )
    psql = _psql(bindir, sockets)
    # The port opens before the server takes connections ("the database system is starting up").
    processes.wait_until(
        "PostgreSQL",
        lambda: (
            subprocess.run(
                [*psql, "-d", "postgres", "-c", "SELECT 1"], user=user, capture_output=True
            ).returncode
            == 0
        ),
        timeout=60,
        alive=lambda: processes.read_pid(dirs, "postgres") is not None,
        log=dirs.log_file("postgres"),
    )
    if fresh:
        for sql in (
            "CREATE ROLE kalite LOGIN PASSWORD 'kalite' CREATEDB",
            "CREATE DATABASE kalite OWNER kalite",
            "CREATE DATABASE kalite_test OWNER kalite",
        ):
            subprocess.run([*psql, "-c", sql], check=True, user=user)
    _create_extensions(psql, user)
    _say("postgres    started on 127.0.0.1:5432 (database kalite, user kalite)")


def _psql(bindir: Path, sockets: Path) -> list[str]:
    """psql as the superuser, over the server's own socket (trusted locally)."""
    return [
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


def _create_extensions(psql: list[str], user: str | None) -> None:
    """What a superuser must create for our role (earthdistance is not a trusted extension): in our
    databases, and in template1 so that test databases created later have it too."""
    listed = subprocess.run(
        [*psql, "-d", "postgres", "-At", "-c", EXTENSION_DATABASES],
        check=True,
        user=user,
        capture_output=True,
        text=True,
    )
    for database in listed.stdout.split():
        subprocess.run(
            [
                *psql,
                "-d",
                database,
                "-c",
                "SET client_min_messages = warning",  # not the NOTICEs of extensions already there
                "-c",
                "CREATE EXTENSION IF NOT EXISTS earthdistance CASCADE",
            ],
            check=True,
            user=user,
        )


# ---------------------------------------------------------------- the engine

ENGINE_DATABASE = "operaton"


def _engine_datasource() -> dict[str, str]:
    """The engine's own database: ENGINE_DATABASE_URL (JDBC) when set, else `operaton` on our server."""
    if url := os.environ.get("ENGINE_DATABASE_URL"):
        return {
            "SPRING_DATASOURCE_URL": url,
            "SPRING_DATASOURCE_USERNAME": os.environ.get("ENGINE_DATABASE_USERNAME", "kalite"),
            "SPRING_DATASOURCE_PASSWORD": os.environ.get("ENGINE_DATABASE_PASSWORD", "kalite"),
        }
    return {
        "SPRING_DATASOURCE_URL": f"jdbc:postgresql://127.0.0.1:{versions.PORTS['postgres']}/{ENGINE_DATABASE}",
        "SPRING_DATASOURCE_USERNAME": "kalite",
        "SPRING_DATASOURCE_PASSWORD": "kalite",
    }


def _ensure_engine_database() -> None:
    if os.environ.get("ENGINE_DATABASE_URL"):
        return
    import psycopg

    url = os.environ.get("DATABASE_URL", LOCAL_DATABASE_URL).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (ENGINE_DATABASE,)
        ).fetchone()
        if not exists:
            connection.execute(f"CREATE DATABASE {ENGINE_DATABASE}")


def engine_url() -> str:
    """Where clients reach the engine: the one node, or the balancer in front of the nodes."""
    return f"http://127.0.0.1:{versions.PORTS['engine_http']}"


def start_engine(layout: Layout, node: Member | None = None) -> None:
    """One Operaton node with REST, Tasklist, Cockpit and Admin (the one-node stack's on port
    8080), ready when its REST answers. Nodes of a cluster are identical: same database, each
    with its job executor; only the ports and the name it reports its metrics under differ."""
    node = node or Topology().engines[0]
    dirs = layout.dirs
    url = f"http://127.0.0.1:{node.port}"
    if processes.read_pid(dirs, node.name):
        _say(f"{node.name:<11} already running on {url}")
        return
    jar = engine.build(layout.opt)
    java = engine.find_java()
    _ensure_engine_database()
    processes.spawn(
        dirs,
        node.name,
        [
            str(java),
            *os.environ.get("ENGINE_JAVA_OPTS", "-Xms256m -Xmx1g -Duser.timezone=Europe/Istanbul").split(),
            "-jar",
            str(jar),
            # The take listener that records flows for process coverage (tests, kalite-coverage).
            "--belediye.flow-coverage=true",
        ],
        env={
            **_engine_datasource(),
            "SERVER_PORT": str(node.port),
            "ENGINE_MANAGEMENT_PORT": str(node.probe_port),
            # The name the node reports its metrics and telemetry under: one per node.
            "OPERATON_BPM_GENERICPROPERTIES_PROPERTIES_HOSTNAME": node.name,
            **_engine_sso_env(layout),
        },
        cwd=layout.data,
    )
    processes.wait_until(
        node.name,
        lambda: processes.http_ok(f"{url}/engine-rest/version", auth=("demo", "demo")),
        timeout=180,
        alive=lambda: processes.read_pid(dirs, node.name) is not None,
        log=dirs.log_file(node.name),
    )
    _say(f"{node.name:<11} started: Operaton {versions.OPERATON_VERSION} on {url}")


def start_balancer(layout: Layout, topology: Topology) -> None:
    """HAProxy in front of the engine nodes and/or the API processes (deploy/local/haproxy.cfg.j2)."""
    dirs = layout.dirs
    if processes.read_pid(dirs, "balancer"):
        _say("balancer    already running")
        return
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        raise RuntimeError("HAProxy is not installed: run `bash deploy/local/prerequisites.sh` as root")
    config = dirs.run / "haproxy.cfg"
    dirs.run.mkdir(parents=True, exist_ok=True)
    config.write_text(balancer_config(topology))
    checked = subprocess.run([haproxy, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
    if checked.returncode:
        raise RuntimeError(f"HAProxy refused {config}: {checked.stderr or checked.stdout}")
    processes.spawn(dirs, "balancer", [haproxy, "-db", "-f", str(config)], cwd=layout.data)
    stats = f"http://127.0.0.1:{BALANCER_STATS_PORT}/metrics"
    processes.wait_until(
        "Balancer",
        lambda: processes.http_ok(stats),
        timeout=30,
        alive=lambda: processes.read_pid(dirs, "balancer") is not None,
        log=dirs.log_file("balancer"),
    )
    parts = (("engine", topology.engine_nodes), ("API", topology.api_processes))
    fronted = " and the ".join(part for part, copies in parts if copies > 1)
    _say(f"balancer    started: HAProxy in front of the {fronted} (page {stats.removesuffix('metrics')})")
    if topology.engine_nodes > 1:
        processes.wait_until(
            "Balanced engine",
            lambda: processes.http_ok(f"{engine_url()}/engine-rest/version", auth=("demo", "demo")),
            timeout=30,
            alive=lambda: processes.read_pid(dirs, "balancer") is not None,
            log=dirs.log_file("balancer"),
        )


def _engine_sso_env(layout: Layout) -> dict[str, str]:
    """Single sign-on to Tasklist, Cockpit and Admin through the realm's client
    operaton-webapps (deploy/engine SsoConfiguration, Spring profile oidc). The engine reads the
    realm's discovery document when it starts, so Keycloak runs first (up)."""
    return {
        "SPRING_PROFILES_ACTIVE": "oidc",
        "OIDC_ISSUER": keycloak.Instance.from_env(layout.data).issuer,
        "OIDC_CLIENT_ID": "operaton-webapps",
        "OIDC_CLIENT_SECRET": keycloak_realm.LOCAL_CLIENT_SECRET,
    }


def ensure_engine_identity() -> None:
    from deploy.local.engine_identity import ensure_identity
    from services.config import get_settings
    from services.operaton import Operaton

    settings = get_settings()
    with Operaton(settings.engine_rest_url, settings.engine_username, settings.engine_password) as client:
        groups, users = ensure_identity(client)
    _say(f"identity    engine groups and sample users in place ({groups} groups, {users} users new)")


# ---------------------------------------------------------------- our processes


def _app_env(layout: Layout) -> dict[str, str]:
    env = {
        "DATA_DIR": str(layout.data),
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": os.environ.get("DATABASE_URL", LOCAL_DATABASE_URL),
    }
    env["OIDC_ISSUER"] = keycloak.Instance.from_env(layout.data).issuer
    return env


def start_keycloak(layout: Layout) -> None:
    instance = keycloak.Instance.from_env(layout.data)
    keycloak.start(instance)
    _say(f"keycloak    running on {instance.url} (issuer {instance.issuer}; sample users, password demo)")


def start_ours(layout: Layout) -> None:
    dirs = layout.dirs
    env = _app_env(layout)
    if processes.read_pid(dirs, "mailbox"):
        _say("mailbox     already running (SMTP 127.0.0.1:2525)")
    else:
        start_mailbox(layout)
        _say(f"mailbox     started: SMTP 127.0.0.1:2525, messages in {layout.data / 'mailbox'}")
    if processes.read_pid(dirs, "smsc"):
        _say(f"smsc        already running (SMPP 127.0.0.1:{versions.PORTS['smpp']})")
    else:
        start_smsc(layout)
        port = versions.PORTS["smpp"]
        _say(f"smsc        started: SMPP 127.0.0.1:{port}, messages in {layout.data / 'smsc'}")
    subprocess.run(
        [_python_bin("alembic"), "upgrade", "head"], check=True, cwd=REPO, env={**os.environ, **env}
    )
    _say("migrations  database at head")
    _say(f"keys        local channel keys in {local_channel_keys(layout)}")
    ensure_engine_identity()
    subprocess.run([_python_bin("kalite-deploy")], check=True, cwd=REPO, env={**os.environ, **env})
    _start_api_and_workers(layout, Topology.started(dirs.run))


def _start_api_and_workers(layout: Layout, topology: Topology) -> None:
    for member in topology.apis:
        start_api(layout, member, behind_balancer=topology.api_processes > 1)
    for member in topology.workers:
        start_workers(layout, member)


def start_api(layout: Layout, member: Member | None = None, *, behind_balancer: bool = False) -> None:
    """One API process (the one-node stack's on port 8000), ready when its /health is green."""
    member = member or Topology().apis[0]
    dirs = layout.dirs
    url = f"http://127.0.0.1:{member.port}"
    if processes.read_pid(dirs, member.name):
        _say(f"{member.name:<11} already running on {url}")
        return
    env = {**_app_env(layout), "API_PORT": str(member.port)}
    if behind_balancer:
        # The citizen page's limits count callers by the address the balancer passes on.
        env["TRUSTED_PROXIES"] = '["127.0.0.1"]'
    processes.spawn(dirs, member.name, [_python_bin("kalite-api")], env=env, cwd=REPO)
    processes.wait_until(
        member.name,
        lambda: processes.http_ok(f"{url}/health"),
        timeout=60,
        alive=lambda: processes.read_pid(dirs, member.name) is not None,
        log=dirs.log_file(member.name),
    )
    _say(f"{member.name:<11} started on {url} (OpenAPI at /docs)")


def start_mailbox(layout: Layout) -> None:
    """The local SMTP mailbox, ready when its port accepts connections (also used by the tests
    that stop it to play a mail server outage)."""
    dirs = layout.dirs
    processes.spawn(
        dirs, "mailbox", [sys.executable, "-m", "deploy.local.mailbox"], env=_app_env(layout), cwd=REPO
    )
    processes.wait_until(
        "Mailbox",
        lambda: processes.port_open(versions.PORTS["smtp"]),
        timeout=30,
        alive=lambda: processes.read_pid(dirs, "mailbox") is not None,
        log=dirs.log_file("mailbox"),
    )


def start_smsc(layout: Layout) -> None:
    """The local SMS centre (SMPP 3.4), ready when its port accepts connections."""
    dirs = layout.dirs
    processes.spawn(dirs, "smsc", [sys.executable, "-m", "deploy.local.smsc"], env=_app_env(layout), cwd=REPO)
    processes.wait_until(
        "SMS centre",
        lambda: processes.port_open(versions.PORTS["smpp"]),
        timeout=30,
        alive=lambda: processes.read_pid(dirs, "smsc") is not None,
        log=dirs.log_file("smsc"),
    )


def start_workers(layout: Layout, member: Member | None = None) -> None:
    """One worker process (its probes and metrics on member.port); the engine is reached at
    ENGINE_REST_URL, the balancer when the engine has nodes."""
    member = member or Topology().workers[0]
    dirs = layout.dirs
    if processes.read_pid(dirs, member.name):
        _say(f"{member.name:<11} already running")
        return
    env = {**_app_env(layout), "WORKER_HTTP_PORT": str(member.port)}
    processes.spawn(dirs, member.name, [_python_bin("kalite-workers")], env=env, cwd=REPO)
    time.sleep(2)
    if processes.read_pid(dirs, member.name) is None:
        raise RuntimeError(f"Workers exited during start-up; see {dirs.log_file(member.name)}")
    _say(f"{member.name:<11} started (health and metrics on http://127.0.0.1:{member.port})")


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
            # A release that adds a channel (open311) makes the set again.
            if set(known) == set(api_keys.CHANNELS) and all(
                api_keys.lookup(container.uow, secret) for secret in known.values()
            ):
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
    topology = _topology_to_start(layout)
    user = processes.ensure_service_user()
    start_postgres(layout, user)
    start_keycloak(layout)  # before the engine, which signs people in through it
    # One node after the other: the first creates or upgrades the engine's schema alone.
    for node in topology.engines:
        start_engine(layout, node)
    if topology.balanced:
        start_balancer(layout, topology)
    start_ours(layout)
    shape = f"  Shape          {topology.describe()}; HAProxy page http://127.0.0.1:{BALANCER_STATS_PORT}/\n"
    issuer = keycloak.Instance.from_env(layout.data).issuer
    sign_in_page = f"{issuer}/account (Keycloak; tokens for scripts: {issuer}/protocol/openid-connect/token)"
    users = json.loads((REPO / "deploy" / "local" / "users.json").read_text(encoding="utf-8"))
    sample_users = ", ".join(user["username"] for user in users)
    _say(
        f"\nReady in {time.monotonic() - started:.0f} s.\n"
        "  Citizen page   http://127.0.0.1:8000/       (report a request, track it)\n"
        "  API            http://127.0.0.1:8000        (OpenAPI: /docs, health: /health)\n"
        "  Open311        http://127.0.0.1:8000/open311/v2/discovery.json  (key: channel open311)\n"
        "  Tasklist       http://127.0.0.1:8080/operaton/app/tasklist/default/  (sign in at Keycloak)\n"
        "  Cockpit        http://127.0.0.1:8080/operaton/app/cockpit/default/   (yonetici, at Keycloak)\n"
        "  Admin          http://127.0.0.1:8080/operaton/app/admin/default/     (yonetici, at Keycloak)\n"
        "  Break-glass    http://127.0.0.1:8080/login  (the engine's administrator demo / demo)\n"
        "  Engine REST    http://127.0.0.1:8080/engine-rest  (HTTP Basic, demo / demo)\n"
        f"  Sign-in page   {sign_in_page}\n"
        f"  Sample users   {sample_users} — password demo (deploy/local/users.json)\n"
        f"  Channel keys   {layout.data / 'secrets' / 'channel-keys.json'} (header X-API-Key)\n"
        f"  Mailbox        SMTP 127.0.0.1:2525, messages in {layout.data / 'mailbox'}\n"
        f"  SMS centre     SMPP 127.0.0.1:{versions.PORTS['smpp']}, messages in {layout.data / 'smsc'}\n"
        f"{shape if topology.balanced or topology.worker_processes > 1 else ''}"
        f"  Logs           {layout.dirs.logs}\n"
    )


def _topology_to_start(layout: Layout) -> Topology:
    """The shape ENGINE_NODES, API_PROCESSES and WORKER_PROCESSES ask for; a running stack of
    another shape must be stopped first (its processes hold the ports)."""
    try:
        wanted = Topology.from_env()
    except TopologyInvalid as error:
        raise SystemExit(str(error)) from None
    running = Topology.started(layout.dirs.run)
    if wanted != running and _running(layout):
        raise SystemExit(
            f"The stack runs as {running.describe()}; `make down` first to start it as {wanted.describe()}"
        )
    wanted.save(layout.dirs.run)
    return wanted


# Stopped in this order: callers before what they call, PostgreSQL last.
STOP_ORDER = (
    "workers",
    "api",
    "balancer",
    "identity",  # the home-made issuer of earlier releases, stopped if it still runs
    keycloak.NAME,
    "smsc",
    "mailbox",
    "engine",
    "postgres",
)


def _part(name: str) -> str:
    """The part a process belongs to: engine-2 → engine."""
    stem, _, number = name.rpartition("-")
    return stem if number.isdigit() else name


def _running(layout: Layout) -> list[str]:
    """Every process of the stack with a live pid file, in STOP_ORDER (numbered copies by number)."""
    names = {path.stem for path in layout.dirs.run.glob("*.pid")}

    def order(name: str) -> tuple[int, str]:
        part = _part(name)
        return (STOP_ORDER.index(part) if part in STOP_ORDER else len(STOP_ORDER), name)

    return [name for name in sorted(names, key=order) if processes.read_pid(layout.dirs, name)]


def reshape(layout: Layout, topology: Topology) -> None:
    """Start the engine nodes, the balancer, the API and the worker processes again in another
    shape (`make bench --scale`); PostgreSQL, the mailbox, the SMS centre and the identity
    provider keep running."""
    for name in _running(layout):
        if _part(name) in ("workers", "api", "balancer", "engine"):
            processes.stop(layout.dirs, name, timeout=90)
    topology.save(layout.dirs.run)
    for node in topology.engines:
        start_engine(layout, node)
    if topology.balanced:
        start_balancer(layout, topology)
    _start_api_and_workers(layout, topology)


def down() -> None:
    layout = Layout.from_env()
    for name in _running(layout):
        # PostgreSQL's SIGTERM is a "smart" shutdown that can wait minutes for a spread
        # checkpoint; SIGINT is its "fast" shutdown: clients out, one checkpoint, clean exit.
        sig = signal.SIGINT if name == "postgres" else signal.SIGTERM
        if processes.stop(layout.dirs, name, timeout=90, sig=sig):
            _say(f"{name:<11} stopped")


def status() -> int:
    layout = Layout.from_env()
    topology = Topology.started(layout.dirs.run)
    names = [
        "postgres",
        *(node.name for node in topology.engines),
        *(["balancer"] if topology.balanced else []),
        "mailbox",
        "smsc",
        keycloak.NAME,
        *(member.name for member in topology.apis),
        *(member.name for member in topology.workers),
    ]
    all_up = True
    for name in names:
        pid = processes.read_pid(layout.dirs, name)
        all_up &= pid is not None or (name == "postgres" and bool(os.environ.get("DATABASE_URL")))
        _say(f"{name:<11} {'running (pid ' + str(pid) + ')' if pid else 'stopped'}")
    return 0 if all_up else 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "build", "postgres"])
    args = parser.parse_args()
    if args.command == "up":
        up()
    elif args.command == "down":
        down()
    elif args.command == "postgres":
        # PostgreSQL alone, for the tests that need no engine.
        start_postgres(Layout.from_env(), processes.ensure_service_user())
    elif args.command == "status":
        sys.exit(status())
    else:
        _say(f"engine jar: {engine.build(Layout.from_env().opt)}, Java: {engine.find_java()}")


if __name__ == "__main__":
    main()
