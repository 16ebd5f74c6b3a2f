"""Start, watch and stop the local stack's background processes (pid files + log files)."""

from __future__ import annotations

import base64
import os
import pwd
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Services that refuse to run as root (PostgreSQL) run as this system user.
SERVICE_USER = "kalite"


@dataclass(frozen=True)
class RunDirs:
    """Where pid files and logs of the local stack live."""

    data: Path

    @property
    def run(self) -> Path:
        return self.data / "run"

    @property
    def logs(self) -> Path:
        return self.data / "logs"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"


def running_as_root() -> bool:
    return os.geteuid() == 0


def ensure_service_user() -> str | None:
    """Return the unprivileged user to run PostgreSQL as, creating it if needed."""
    if not running_as_root():
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
        )
    return SERVICE_USER


def chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def read_pid(dirs: RunDirs, name: str) -> int | None:
    try:
        pid = int(dirs.pid_file(name).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours is not alive.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


def spawn(
    dirs: RunDirs,
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> int:
    """Start argv detached from this process, logging to the service's log file."""
    dirs.run.mkdir(parents=True, exist_ok=True)
    dirs.logs.mkdir(parents=True, exist_ok=True)
    log_path = dirs.log_file(name)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with open(log_path, "ab") as log:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(log_path, entry.pw_uid, entry.pw_gid)
            full_env["HOME"] = str(dirs.data)
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
        )
    dirs.pid_file(name).write_text(str(proc.pid))
    return proc.pid


def stop(dirs: RunDirs, name: str, *, timeout: float = 60.0, sig: signal.Signals = signal.SIGTERM) -> bool:
    """Signal the service's process group (SIGTERM unless told), SIGKILL it after timeout.
    True if it was running."""
    pid = read_pid(dirs, name)
    dirs.pid_file(name).unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.25)
    _signal_group(pid, signal.SIGKILL)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(
    url: str, *, expect: Callable[[bytes], bool] | None = None, auth: tuple[str, str] | None = None
) -> bool:
    request = urllib.request.Request(url)  # noqa: S310 - local URLs only
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - local URLs only
            body: bytes = response.read()
    except (urllib.error.URLError, OSError):
        return False
    return expect(body) if expect else True


def wait_until(
    what: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    alive: Callable[[], bool] | None = None,
    log: Path | None = None,
) -> None:
    """Poll check() until it holds; fail early when the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise RuntimeError(f"{what} exited during start-up; see {log}")
        time.sleep(1.0)
    raise RuntimeError(f"{what} was not ready after {timeout:.0f} s; see {log}")
