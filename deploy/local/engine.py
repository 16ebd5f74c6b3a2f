"""The local process engine: build `deploy/engine` (Operaton 1.0.3 on Spring Boot) with Maven once,
give it its own PostgreSQL database, run it on the machine's Java 17+.

The jar is cached under <data>/opt/engine/ by the SHA-256 of the engine's sources: a changed
pom, configuration or Java file builds it again; anything else reuses it.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "deploy" / "engine"
JAVA_MIN = 17
# Maven Central serves the Spin Jackson data format only as 1.0.0, whose parent POM is missing:
# the jar alone is installed into the local repository under this version (see the pom).
SPIN_JSON = "org.operaton.spin:operaton-spin-dataformat-json-jackson"
SPIN_JSON_SERVED, SPIN_JSON_LOCAL = "1.0.0", "1.0.0-standalone"


def _say(message: str) -> None:
    print(f"[engine] {message}", flush=True)  # noqa: T201 - CLI progress output


def _java_version(java: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except OSError:
        return None
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def find_java(minimum: int = JAVA_MIN) -> Path:
    """A Java `minimum`+ (17 unless told): JAVA_HOME, then `java` on PATH, then any JDK under /usr/lib/jvm."""
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    if found := shutil.which("java"):
        candidates.append(Path(found))
    candidates += [Path(p) / "bin" / "java" for p in sorted(glob.glob("/usr/lib/jvm/*"))]
    for java in candidates:
        if (_java_version(java) or 0) >= minimum:
            return java
    raise RuntimeError(f"No Java {minimum}+ found: install one (apt-get install default-jre-headless)")


def sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted([SOURCES / "pom.xml", *(SOURCES / "src").rglob("*")]):
        if path.is_file():
            digest.update(str(path.relative_to(SOURCES)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def maven_repository() -> Path:
    """The local Maven repository the build uses: MAVEN_REPOSITORY, else ~/.m2/repository."""
    return Path(os.environ.get("MAVEN_REPOSITORY", Path.home() / ".m2" / "repository"))


def operaton_version() -> str:
    """The Operaton version the pom pins (the engine and web apps the jar serves)."""
    match = re.search(r"<operaton\.version>([^<]+)</operaton\.version>", (SOURCES / "pom.xml").read_text())
    if not match:
        raise RuntimeError("deploy/engine/pom.xml does not pin operaton.version")
    return match.group(1)


def webjar() -> Path:
    """Operaton's web apps (Tasklist, Cockpit, Admin, Welcome) as the build put them into the repository."""
    version = operaton_version()
    return (
        maven_repository()
        / "org/operaton/bpm/webapp/operaton-webapp-webjar"
        / version
        / f"operaton-webapp-webjar-{version}.jar"
    )


def _mvn() -> list[str]:
    """Maven, on the local repository MAVEN_REPOSITORY names (default ~/.m2/repository)."""
    return ["mvn", "-q", "-B", f"-Dmaven.repo.local={maven_repository()}"]


def _install_spin_json() -> None:
    group, artifact = SPIN_JSON.split(":")
    folder = maven_repository() / group.replace(".", "/") / artifact
    local = folder / SPIN_JSON_LOCAL / f"{artifact}-{SPIN_JSON_LOCAL}.jar"
    if local.exists():
        return
    _say(f"installing {artifact} {SPIN_JSON_SERVED} as {SPIN_JSON_LOCAL}")
    mvn = _mvn()
    subprocess.run(
        [*mvn, "dependency:get", "-Dtransitive=false", f"-Dartifact={SPIN_JSON}:{SPIN_JSON_SERVED}"],
        check=True,
    )
    served = folder / SPIN_JSON_SERVED / f"{artifact}-{SPIN_JSON_SERVED}.jar"
    subprocess.run(
        [
            *mvn,
            "install:install-file",
            f"-Dfile={served}",
            f"-DgroupId={group}",
            f"-DartifactId={artifact}",
            f"-Dversion={SPIN_JSON_LOCAL}",
            "-Dpackaging=jar",
            "-DgeneratePom=true",
        ],
        check=True,
    )


def build(opt: Path) -> Path:
    """The engine jar for the current sources, built when missing."""
    jar = opt / "engine" / f"belediye-engine-{sources_digest()}.jar"
    if jar.exists():
        return jar
    _install_spin_json()
    _say("building deploy/engine with Maven (first start: downloads Operaton from Maven Central)")
    subprocess.run([*_mvn(), "-f", str(SOURCES / "pom.xml"), "package", "-DskipTests"], check=True)
    jar.parent.mkdir(parents=True, exist_ok=True)
    for old in jar.parent.glob("belediye-engine-*.jar"):
        old.unlink()
    shutil.copy2(SOURCES / "target" / "belediye-engine.jar", jar)
    return jar
