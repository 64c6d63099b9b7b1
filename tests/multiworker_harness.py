"""Two `python -m core.train --distribute multiworker` workers on this machine, for
tests/test_multiworker.py and bench/multiworker_stall.py."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:  # all bound at once, so the ports differ
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_worker(
    index: int,
    ports: list[int],
    data: Path,
    root: Path,
    log: Path,
    epochs: int = 1,
    batch_size: int = 32,
) -> subprocess.Popen:
    """Worker ``index`` of a cluster of one worker per port, training `custom` on ``data``."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    env = {
        **os.environ,
        "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        "CUDA_VISIBLE_DEVICES": "",  # two processes must not each claim a whole GPU
        "TMPDIR": str(log.parent),
    }
    argv = ["custom", "--data", str(data), "--epochs", str(epochs), "--batch-size", str(batch_size)]
    argv += ["--distribute", "multiworker", "--artifacts", str(root), "--quiet"]
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "core.train", *argv],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_all(procs: list[subprocess.Popen], timeout: float) -> list[int]:
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
