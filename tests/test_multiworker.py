"""`--distribute multiworker`: two worker processes on this machine train one model together."""

import pytest

from core.store import artifacts
from tests.multiworker_harness import free_ports, start_worker, wait_all

pytestmark = pytest.mark.slow


def test_two_workers_finish_and_the_chief_writes_the_one_artifact(tiny_npz, tmp_path):
    root, logs = tmp_path / "artifacts", [tmp_path / f"worker{i}.log" for i in range(2)]
    ports = free_ports(2)
    procs = [start_worker(i, ports, tiny_npz, root, logs[i]) for i in range(2)]
    codes = wait_all(procs, timeout=300)
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
