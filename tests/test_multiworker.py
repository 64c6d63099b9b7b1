"""`--distribute multiworker`: two worker processes on this machine train one model together."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.store import artifacts

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:  # all bound at once, so the ports differ
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _start_worker(index: int, ports: list[int], data: Path, root: Path, log: Path):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    env = {
        **os.environ,
        "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        "CUDA_VISIBLE_DEVICES": "",  # two processes must not each claim a whole GPU
        "TMPDIR": str(log.parent),
    }
    argv = ["custom", "--data", str(data), "--epochs", "1", "--batch-size", "32"]
    argv += ["--distribute", "multiworker", "--artifacts", str(root), "--quiet"]
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "core.train", *argv],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_all(procs: list[subprocess.Popen], timeout: float) -> list[int]:
    """Exit codes; once one worker fails the other would wait for it forever, so it is killed."""
    deadline = time.monotonic() + timeout
    while any(p.poll() is None for p in procs):
        failed = any(p.poll() not in (None, 0) for p in procs)
        if failed or time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            break
        time.sleep(0.5)
    return [p.wait() for p in procs]


def test_two_workers_finish_and_the_chief_writes_the_one_artifact(tiny_npz, tmp_path):
    root, logs = tmp_path / "artifacts", [tmp_path / f"worker{i}.log" for i in range(2)]
    ports = _free_ports(2)
    procs = [_start_worker(i, ports, tiny_npz, root, logs[i]) for i in range(2)]
    codes = _wait_all(procs, timeout=300)
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], "\n\n".join(out[-3000:] for out in outputs)

    assert sorted(p.name for p in root.iterdir()) == [".work", "custom"], "one artifact, no more"
    assert not (root / ".work" / "custom" / "lock").exists()
    art = artifacts.Artifact("custom", root)
    assert art.status().ready
    assert art.config()["distribute"] == "multiworker"
    assert len(art.predictions()["y_true"]) == 60
    # Both workers evaluated the same synchronised model.
    scores = [[line for line in out.splitlines() if line.startswith("{")] for out in outputs]
    assert scores[0] == scores[1] and len(scores[0]) == 1
