"""Training throughput of one model on this machine, in images/s (random data, batch 256).

    python bench/train_speed.py vgg12_opt [--no-augment] [--slow-conv] [--layout "32 64p ..."]
    TF_ENABLE_ONEDNN_OPTS=0 python bench/train_speed.py vgg12_opt   # oneDNN off

Fits two warm-up steps, then times ``--steps`` more through the very ``tf.data`` pipeline and
augmentation that ``core.training.train`` uses (Model 2's flip + 2-pixel shift unless
``--no-augment``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from core.data.augment import build_augmenter  # noqa: E402
from core.models.builders import build_vgg12_opt  # noqa: E402
from core.models.registry import get_spec  # noqa: E402
from core.training import fastconv
from core.training.train import make_dataset, make_optimizer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--slow-conv", action="store_true", help="without core.training.fastconv")
    parser.add_argument("--layout", help="a vgg12_opt conv layout to try instead")
    args = parser.parse_args()

    batch = args.batch_size
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch * (args.steps + 2), 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, len(images))
    model = build_vgg12_opt(args.layout) if args.layout else get_spec(args.model).build()
    model.compile(
        optimizer=make_optimizer("sgd", 0.01, weight_decay=0.0),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    augment = None
    if not args.no_augment:
        augment = build_augmenter(get_spec("vgg12_opt").defaults.augment)
    data = make_dataset(images, labels, batch, augment=augment, shuffle_seed=0)
    with fastconv.enabled(not args.slow_conv):
        model.fit(data.take(2), epochs=1, verbose=0)
        start = time.perf_counter()
        model.fit(data.skip(2), epochs=1, verbose=0)
        seconds = time.perf_counter() - start
    print(f"{args.layout or args.model}: {args.steps * batch / seconds:.0f} images/s")


if __name__ == "__main__":
    main()
