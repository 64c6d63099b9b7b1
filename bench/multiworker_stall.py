"""Does `--distribute multiworker` survive a worker that stalls (a busy machine)?

    python bench/multiworker_stall.py [--stall 25] [--after 30] [--epochs 40]

Trains `custom` on a tiny generated data set with two worker processes on this machine, stops
worker 1 (SIGSTOP) --after seconds from the start for --stall seconds, and prints both exit
codes and the wall time. TensorFlow's default heartbeat timeout (10 s) ends such a run on
both workers; core.training.multiworker sets a longer one.
"""

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import make_tiny_dataset, save_npz  # noqa: E402
from tests.multiworker_harness import free_ports, start_worker  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stall", type=float, default=25.0)
    parser.add_argument("--after", type=float, default=30.0)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="multiworker-stall-"))
    data = folder / "tiny.npz"
    save_npz(make_tiny_dataset(), data)
    ports = free_ports(2)
    procs = [
        start_worker(i, ports, data, folder / "art", folder / f"worker{i}.log", args.epochs, 8)
        for i in range(2)
    ]
    started = time.monotonic()
    time.sleep(args.after)
    procs[1].send_signal(signal.SIGSTOP)
    time.sleep(args.stall)
    procs[1].send_signal(signal.SIGCONT)
    codes = [p.wait(timeout=1200) for p in procs]
    print(
        f"worker 1 stopped {args.stall:.0f} s from {args.after:.0f} s on: exit codes {codes}, "
        f"{time.monotonic() - started:.1f} s in all (logs in {folder})"
    )


if __name__ == "__main__":
    main()
