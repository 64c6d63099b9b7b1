"""`python -m core.serve` as an operator runs it: one replica behind Debian's nginx answers
through the URL it prints, the launcher itself holds no TensorFlow, and SIGTERM stops nginx
and the replica with exit status 0, leaving no process behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from core.data.cifar10 import CACHE_ENV
from core.serving.replicas import free_port
from core.store.samples import SAMPLES_FILE
from tests.browser_harness import ROOT
from tests.test_serve import MODEL, require_nginx

pytestmark = [pytest.mark.slow]


def _descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def test_the_command_serves_through_nginx_and_sigterm_leaves_no_process(tmp_path):
    require_nginx()
    folder = tmp_path / "artifacts"
    shutil.copytree(ROOT / "artifacts" / MODEL, folder / MODEL)
    shutil.copy2(ROOT / "artifacts" / SAMPLES_FILE, folder / SAMPLES_FILE)
    port = free_port()
    command = [sys.executable, "-m", "core.serve", "--replicas", "1", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--artifacts", str(folder)]
    launcher = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, CACHE_ENV: str(tmp_path / "cache")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    below: set[int] = set()  # the launcher's processes: nginx, its workers, the replica
    reader = threading.Thread(target=lambda: lines.extend(launcher.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while not any(line.startswith("serving: open ") for line in lines):
            assert launcher.poll() is None, lines
            assert time.monotonic() < deadline, f"not serving after 240 s: {lines}"
            time.sleep(0.2)
        url = next(x for x in lines if x.startswith("serving: open ")).split()[-1]
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=30) as answer:
            assert answer.status == 200 and answer.headers["X-Studio-Replica"] == "r1"
        maps = Path(f"/proc/{launcher.pid}/maps").read_text()
        assert "tensorflow" not in maps, "the launcher loaded TensorFlow, which only replicas use"
        below = _descendants(launcher.pid)
        assert len(below) >= 2, below  # nginx and the replica, at least

        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=60) == 0, lines
        deadline = time.monotonic() + 15
        while _alive(below) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(below), f"left running: {_alive(below)}; {lines}"
        reader.join(timeout=10)
        assert lines[-1].strip() == "stopping nginx and the replicas", lines
        assert not (tmp_path / "cache" / "serve" / f"{port}.json").exists()
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        for pid in _alive(below):
            os.kill(pid, signal.SIGKILL)
