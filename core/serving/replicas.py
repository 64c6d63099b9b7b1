"""Viewer-mode replicas of the dashboard: each one `streamlit run dashboard.py` on a local port,
started, warmed up and stopped by ``core.serving.cluster``.

A replica counts as warm once it has written its ready file (``core.serving.readiness``), not
when ``/_stcore/health`` first answers: that is seconds after the start, long before the models
are loaded and traced.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core import REPO_ROOT
from core.serving.deployment import VIEWER_ENV
from core.serving.readiness import BUSY_FILE_ENV, READY_FILE_ENV, WARM_UP_TRIGGER, read_ready
from core.store.artifacts import ARTIFACTS_ENV

COOKIE_SECRET_ENV = "STREAMLIT_SERVER_COOKIE_SECRET"  # Streamlit reads server.cookieSecret here
WARM_UP_ENV = "CIFAR10_STUDIO_WARM_UP"
HEALTH = "/_stcore/health"
STOP_WAIT_S = 15.0


class ReplicaError(RuntimeError):
    """A replica exited or did not become warm in time; ``str()`` is one line."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    """In the child before exec: SIGTERM when core.serve dies, even by SIGKILL (Linux's
    PR_SET_PDEATHSIG), so a killed core.serve leaves no orphan replica or nginx. The signal
    comes when the *thread* that started the child ends: start children from a thread that
    lives as long as they do (``core.serve`` starts them all from its main thread)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@dataclass
class Replica:
    name: str
    port: int
    artifacts: Path | None
    run_dir: Path
    proc: subprocess.Popen | None = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ready_file(self) -> Path:
        return self.run_dir / f"{self.name}-{self.port}.ready"

    @property
    def busy_file(self) -> Path:
        return self.run_dir / f"{self.name}-{self.port}.busy"

    @property
    def log(self) -> Path:
        return self.run_dir / f"{self.name}-{self.port}.log"

    def start(self, cookie_secret: str, extra_env: dict[str, str] | None = None) -> None:
        """Start the server (the warm-up is triggered by ``warm_up``)."""
        self.ready_file.unlink(missing_ok=True)
        env = {
            **os.environ,
            VIEWER_ENV: "1",
            WARM_UP_ENV: "1",
            READY_FILE_ENV: str(self.ready_file),
            BUSY_FILE_ENV: str(self.busy_file),
            COOKIE_SECRET_ENV: cookie_secret,
            **(extra_env or {}),
        }
        if self.artifacts is not None:
            env[ARTIFACTS_ENV] = str(self.artifacts)
        command = [sys.executable, "-m", "streamlit", "run", "dashboard.py"]
        command += ["--server.port", str(self.port), "--server.address", "127.0.0.1"]
        command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
        command += ["--server.fileWatcherType", "none", "--server.scriptHealthCheckEnabled", "true"]
        self.started_at = time.monotonic()
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches core.serve, which stops replicas in order
                preexec_fn=die_with_parent,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + HEALTH, timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def ready(self) -> dict | None:
        """The ready record once the models are warm, else None."""
        return read_ready(self.ready_file)

    def warm_up(self, timeout_s: float, stopping: Callable[[], bool] = lambda: False) -> dict:
        """Wait until the server answers, start its warm-up (one script run through Streamlit's
        script health check), wait until it is warm; returns the ready record."""
        deadline = self.started_at + timeout_s
        self._wait(self.healthy, deadline, stopping, "answer its health check")
        try:
            with urllib.request.urlopen(self.url + WARM_UP_TRIGGER, timeout=timeout_s):
                pass
        except OSError as exc:  # the script's own error shows in the log; readiness decides
            print(f"{self.name}: the dashboard's first run failed ({exc})", file=sys.stderr)
        self._wait(lambda: self.ready() is not None, deadline, stopping, "warm up")
        return self.ready() or {}

    def stop(self, timeout_s: float = STOP_WAIT_S) -> int | None:
        """SIGTERM (the dashboard stops its warm-up and exits cleanly), SIGKILL after
        ``timeout_s``; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def _wait(self, done: Callable[[], bool], deadline: float, stopping, what: str) -> None:
        while not done():
            if not self.alive():
                raise ReplicaError(
                    f"replica {self.name} exited ({self.proc.returncode}) before it could "
                    f"{what}; see its log {self.log}"
                )
            if stopping():
                raise ReplicaError(f"replica {self.name}: stopped while waiting to {what}")
            if time.monotonic() > deadline:
                raise ReplicaError(f"replica {self.name} did not {what} in time")
            time.sleep(0.2)
