"""Keycloak for local use: `python -m deploy.local.keycloak start|stop|status|install`.

Installed once from Maven Central (org.keycloak:keycloak-quarkus-dist, a tar.gz) under
<data>/opt/keycloak/ and built once for PostgreSQL (`kc.sh build`, cached by its options), then run
in production mode (`start --optimized`, not `start-dev`: the same server, database and hostname
handling as in production, only plain HTTP on 127.0.0.1) on Java 21+. Its store is a database on
our PostgreSQL (`keycloak` unless KEYCLOAK_DATABASE says otherwise); the realm of
deploy/local/keycloak/belediye-realm.json is imported at start when the database lacks it, and
imported again (overriding) when the file changed since. Ports: KEYCLOAK_PORT (8070),
KEYCLOAK_MANAGEMENT_PORT (9070; /health/ready, /metrics). The master realm's administrator is
admin / demo (local only).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from deploy.local import engine, processes, versions
from deploy.local.keycloak_realm import REALM, REALM_FILE
from deploy.local.processes import RunDirs
from services.config import LOCAL_DATABASE_URL

REPO = Path(__file__).resolve().parents[2]
JAVA_MIN = 21
DIST = "org.keycloak:keycloak-quarkus-dist"
# Build-time options (`kc.sh build`); the runtime ones are given at each start.
BUILD_OPTIONS = ("--db=postgres", "--health-enabled=true", "--metrics-enabled=true")
ADMIN = ("admin", "demo")
NAME = "keycloak"  # pid and log file name


def _say(message: str) -> None:
    print(f"[keycloak] {message}", flush=True)  # noqa: T201 - CLI progress output


@dataclass(frozen=True)
class Instance:
    """One local Keycloak: its data folder, ports and database."""

    data: Path
    port: int = versions.PORTS["identity"]
    management_port: int = versions.PORTS["keycloak_management"]
    database: str = "keycloak"

    @classmethod
    def from_env(cls, data: Path | None = None) -> Instance:
        return cls(
            data=(data or Path(os.environ.get("DATA_DIR", REPO / ".data"))).resolve(),
            port=int(os.environ.get("KEYCLOAK_PORT", versions.PORTS["identity"])),
            management_port=int(
                os.environ.get("KEYCLOAK_MANAGEMENT_PORT", versions.PORTS["keycloak_management"])
            ),
            database=os.environ.get("KEYCLOAK_DATABASE", "keycloak"),
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        """What OIDC_ISSUER must say for our API to accept this Keycloak's tokens."""
        return f"{self.url}/realms/{REALM}"

    @property
    def home(self) -> Path:
        return self.data / "opt" / "keycloak" / f"keycloak-{versions.KEYCLOAK_VERSION}"

    @property
    def dirs(self) -> RunDirs:
        return RunDirs(self.data)

    @property
    def realm_stamp(self) -> Path:
        """The digest of the realm file last imported into this instance's database."""
        return self.data / "keycloak" / f"realm-{self.database}.sha256"


# ---------------------------------------------------------------- install and build


def find_java() -> Path:
    """Keycloak 26 needs Java 21+ (the machine's default may be 17): KEYCLOAK_JAVA_HOME first."""
    if home := os.environ.get("KEYCLOAK_JAVA_HOME"):
        return Path(home) / "bin" / "java"
    return engine.find_java(JAVA_MIN)


def install(instance: Instance) -> Path:
    """The unpacked distribution, fetched with Maven when missing."""
    home = instance.home
    if (home / "bin" / "kc.sh").exists():
        return home
    folder = home.parent
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"keycloak-quarkus-dist-{versions.KEYCLOAK_VERSION}.tar.gz"
    if not archive.exists():
        _say(f"fetching {DIST}:{versions.KEYCLOAK_VERSION} from Maven Central (about 170 MB)")
        subprocess.run(
            [
                *engine._mvn(),
                "dependency:copy",
                f"-Dartifact={DIST}:{versions.KEYCLOAK_VERSION}:tar.gz",
                f"-DoutputDirectory={folder}",
            ],
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="tar")
    archive.unlink()
    return home


def _java_env(java: Path) -> dict[str, str]:
    return {"JAVA_HOME": str(java.parent.parent)}


def build(instance: Instance, java: Path) -> None:
    """`kc.sh build` for PostgreSQL with health and metrics, once per set of options."""
    stamp = instance.home / ".belediye-build"
    wanted = " ".join(BUILD_OPTIONS)
    if stamp.exists() and stamp.read_text() == wanted:
        return
    _say("building the server for PostgreSQL (once)")
    subprocess.run(
        [str(instance.home / "bin" / "kc.sh"), "build", *BUILD_OPTIONS],
        check=True,
        env={**os.environ, **_java_env(java)},
        stdout=subprocess.DEVNULL,
    )
    stamp.write_text(wanted)


# ---------------------------------------------------------------- the database


def _admin_url() -> str:
    url = os.environ.get("DATABASE_URL", LOCAL_DATABASE_URL)
    return url.replace("postgresql+psycopg://", "postgresql://")


def ensure_database(name: str) -> None:
    """Keycloak's own database on our server, owned by our role (as the engine's)."""
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _realm_in_database(name: str) -> bool:
    import psycopg

    url = _admin_url().rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url) as connection:
        if not connection.execute("SELECT to_regclass('public.realm')").fetchone()[0]:  # type: ignore[index]
            return False
        return connection.execute("SELECT 1 FROM realm WHERE name = %s", (REALM,)).fetchone() is not None


def _jdbc_options(instance: Instance) -> tuple[list[str], dict[str, str]]:
    """The server and role of DATABASE_URL (our PostgreSQL), Keycloak's own database on it: URL and
    user on the command line, the password in the environment (not in `ps`)."""
    from sqlalchemy import make_url

    url = make_url(_admin_url())
    host, port = url.host or "127.0.0.1", url.port or versions.PORTS["postgres"]
    return (
        [f"--db-url=jdbc:postgresql://{host}:{port}/{instance.database}", f"--db-username={url.username}"],
        {"KC_DB_PASSWORD": url.password or ""},
    )


# ---------------------------------------------------------------- start and stop


def _realm_digest() -> str:
    return hashlib.sha256(REALM_FILE.read_bytes()).hexdigest()


def _reimport_if_changed(instance: Instance, java: Path) -> None:
    """The realm file changed since it was imported: import it again over the old one."""
    digest = _realm_digest()
    stamp = instance.realm_stamp
    if stamp.exists() and stamp.read_text() == digest:
        return
    if not _realm_in_database(instance.database):
        return  # the start's --import-realm imports it
    _say(f"realm file changed: importing {REALM_FILE.name} again (overriding)")
    db_args, db_env = _jdbc_options(instance)
    subprocess.run(
        [
            str(instance.home / "bin" / "kc.sh"),
            "import",
            "--optimized",
            f"--file={REALM_FILE}",
            "--override=true",
            *db_args,
        ],
        check=True,
        env={**os.environ, **_java_env(java), **db_env},
        stdout=subprocess.DEVNULL,
    )


def start(instance: Instance, *, timeout: float = 180) -> None:
    """Start (or find running) Keycloak; ready when its realm's discovery document answers."""
    dirs = instance.dirs
    if processes.read_pid(dirs, NAME):
        _say(f"already running on {instance.url}")
        return
    for port in (instance.port, instance.management_port):
        if processes.port_open(port):
            raise RuntimeError(f"Port {port} is taken: stop what listens there or set KEYCLOAK_PORT")
    java = find_java()
    install(instance)
    build(instance, java)
    ensure_database(instance.database)
    _reimport_if_changed(instance, java)
    imports = instance.home / "data" / "import"
    imports.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REALM_FILE, imports / REALM_FILE.name)
    db_args, db_env = _jdbc_options(instance)
    processes.spawn(
        dirs,
        NAME,
        [
            str(instance.home / "bin" / "kc.sh"),
            "start",
            "--optimized",
            "--import-realm",
            *db_args,
            "--http-enabled=true",
            "--http-host=127.0.0.1",
            f"--http-port={instance.port}",
            f"--http-management-port={instance.management_port}",
            # A fixed public address: every token names the same issuer whoever asked.
            f"--hostname={instance.url}",
            "--cache=local",  # one node: no cluster discovery
        ],
        env={
            **_java_env(java),
            **db_env,
            "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN[0],
            "KC_BOOTSTRAP_ADMIN_PASSWORD": ADMIN[1],
        },
        cwd=instance.data,
    )
    processes.wait_until(
        "Keycloak",
        lambda: processes.http_ok(f"{instance.issuer}/.well-known/openid-configuration"),
        timeout=timeout,
        alive=lambda: processes.read_pid(dirs, NAME) is not None,
        log=dirs.log_file(NAME),
    )
    instance.realm_stamp.parent.mkdir(parents=True, exist_ok=True)
    instance.realm_stamp.write_text(_realm_digest())


def ready(instance: Instance) -> bool:
    return processes.http_ok(f"http://127.0.0.1:{instance.management_port}/health/ready")


def stop(instance: Instance) -> bool:
    return processes.stop(instance.dirs, NAME, timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.keycloak", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status", "install"])
    args = parser.parse_args(argv)
    instance = Instance.from_env()
    if args.command == "install":
        java = find_java()
        install(instance)
        build(instance, java)
        _say(f"installed in {instance.home}, Java {java}")
    elif args.command == "start":
        start(instance)
        _say(f"started on {instance.url} (issuer {instance.issuer}; sample users, password demo)")
    elif args.command == "stop":
        _say("stopped" if stop(instance) else "was not running")
    else:
        pid = processes.read_pid(instance.dirs, NAME)
        _say(f"running (pid {pid}), ready: {ready(instance)}" if pid else "stopped")
        return 0 if pid else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
