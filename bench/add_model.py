"""How long ``python -m core.add_model`` takes to make a full artifact, for two model sizes.

    python bench/add_model.py --data PATH [--models custom vgg12_opt]

The models are the shipped ones' own networks, saved as a user would hand them over: ``custom``
(0.5 M parameters) and ``vgg12_opt``'s single-view network (3.1 M parameters, 12 convolutions at
32 px). Each is added into a temporary artifacts root (never the repository's) by the command
itself, in its own process, with every analysis; the data's decoded cache is warmed first, so
the times are those of a second import. Prints the wall time of the command and of each stage
(from its progress log).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def model_file(name: str, folder: Path) -> Path:
    """The network of shipped model ``name`` as one .keras file (test-time views removed)."""
    from core.models.builders import single_view_network
    from core.store.artifacts import Artifact

    network = single_view_network(Artifact(name, REPO / "artifacts").load_model())
    path = folder / f"{name}_network.keras"
    network.save(path)
    return path


def stage_times(progress: Path, total: float) -> list[tuple[str, float]]:
    """(stage, seconds) from the import's progress log; the last stage runs to ``total``."""
    from core.io.progress import read_records

    records = [r for r in read_records(progress) if "stage" in r]
    ends = [r["wall_s"] for r in records[1:]] + [total]
    return [(r["stage"], max(0.0, end - r["wall_s"])) for r, end in zip(records, ends, strict=True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=os.environ.get("CIFAR10_DATA"), help="CIFAR-10 source")
    parser.add_argument("--models", nargs="+", default=["custom", "vgg12_opt"])
    args = parser.parse_args()
    if not args.data:
        parser.error("give --data PATH (or set CIFAR10_DATA)")

    from core.data.cifar10 import load_cifar10
    from core.io.quiet import stderr_closed

    with stderr_closed():  # TensorFlow's start-up lines
        import tensorflow  # noqa: F401

    load_cifar10(args.data, progress=False)  # the decoded cache, so timing starts warm
    with tempfile.TemporaryDirectory(prefix="add_model_bench-") as tmp:
        tmp = Path(tmp)
        for name in args.models:
            source = model_file(name, tmp)
            root = tmp / "artifacts"
            command = [sys.executable, "-m", "core.add_model", str(source), "--name"]
            command += [f"{name}_added", "--data", args.data, "--artifacts", str(root)]
            started = time.perf_counter()
            result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
            wall = time.perf_counter() - started
            if result.returncode:
                print(f"{name}: failed: {result.stderr.strip().splitlines()[-1]}")
                continue
            config = json.loads((root / f"{name}_added" / "config.json").read_text())
            metrics = json.loads((root / f"{name}_added" / "metrics.json").read_text())
            imported = config["imported"]
            print(
                f"{name}: {config['parameters'] / 1e6:.2f} M parameters, command {wall:.0f} s "
                f"(import {imported['seconds']:.0f} s after TensorFlow's start), test accuracy "
                f"{metrics['accuracy']:.4f}, input {imported['scaling']['title']}, "
                f"{imported['latency_ms']:.1f} ms per image"
            )
            log = root / ".work" / f"{name}_added" / "progress.jsonl"
            for stage, seconds in stage_times(log, imported["seconds"]):
                print(f"  {stage:<40} {seconds:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
