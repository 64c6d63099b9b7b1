"""What the unfamiliar-image gate adds to one upload: the resize to the gate's size and the
ImageNet network's forward pass (``core.serving.unfamiliar.GateRunner``), median of repeats.

    python bench/unfamiliar_gate_latency.py [--gate lite0] [--size 224] [--repeats 15] [--copy]

``--copy``: the network's fast-start copy (made by ``python -m core.fast_start``), as a server
runs it once made, instead of the traced TensorFlow graph.

Decoding the file is not counted: the 32x32 model input needs it anyway. Photos of three sizes
(the astronaut, scaled up), one upload at a time, as on the Live page.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from PIL import Image  # noqa: E402

from core.analysis import imagenet_gate  # noqa: E402
from core.serving import fast_start  # noqa: E402
from core.serving.unfamiliar import GateRunner  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gate", default="lite0", choices=imagenet_gate.GATES)
    parser.add_argument("--size", type=int, default=imagenet_gate.SIZE)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--copy", action="store_true", help="time the LiteRT copy")
    args = parser.parse_args()
    import skimage.data

    gate = imagenet_gate.Gate(
        args.gate, args.size, imagenet_gate.RELATIONS, "max", (), 0.5, None, None, {}
    )
    network = None
    if args.copy:
        network = fast_start.load_gate(args.gate, args.size)
        if network is None:
            return f"no copy of the {args.gate} gate at {args.size} px: python -m core.fast_start"
    runner = GateRunner(gate, network)
    photo = Image.fromarray(skimage.data.astronaut())
    runner.likeness(runner.gate_input(photo)[None])  # traces the graph
    for width, height in ((512, 512), (1600, 1200), (4032, 3024)):
        image = photo.resize((width, height))
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            runner.likeness(runner.gate_input(image)[None])
            times.append(time.perf_counter() - started)
        print(
            f"{args.gate} at {args.size} px ({'copy' if args.copy else 'graph'}), "
            f"a {width}x{height} upload: "
            f"median {np.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
