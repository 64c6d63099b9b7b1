"""How fast EfficientNet-Lite0's parts run on this machine, per input size and frozen cut.

    python bench/lite0_speed.py [--sizes 128 160] [--cuts 5 8]

For each input size and number of frozen blocks, prints images/s of: the frozen lower part
(forward only, what caching costs once per image), and the tuned upper part (a training step
at batch 64 with BatchNorm frozen, and inference). Random inputs: speed does not depend on them.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402

from core.models import efficientnet_lite as lite


def images_per_second(run, n: int) -> float:
    run()  # warm-up: tracing and first allocations
    start = time.perf_counter()
    run()
    return n / (time.perf_counter() - start)


def measure(size: int, cut: int, state: dict, rng) -> tuple[float, float, float]:
    """(lower part forward, upper part training, upper part inference) in images/s."""
    lower = lite.features_to_block(size, cut)
    lite.assign_weights(lower, state)
    x = rng.random((256, size, size, 3), dtype=np.float32)
    fwd = images_per_second(lambda: lower.predict(x, batch_size=128, verbose=0), 256)
    shape = lite.block_output_shape(size, cut)
    upper = lite.features_from_block(shape, cut)
    lite.assign_weights(upper, state)
    for layer in upper.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    inputs = keras.Input(shape)
    pooled = layers.GlobalAveragePooling2D()(upper(inputs))
    model = keras.Model(inputs, layers.Dense(10, activation="softmax")(pooled))
    model.compile(keras.optimizers.Adam(1e-4), "categorical_crossentropy")
    f = rng.random((640, *shape), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 10, 640), 10)
    train = images_per_second(lambda: model.fit(f, y, batch_size=64, verbose=0), 640)
    infer = images_per_second(lambda: model.predict(f, batch_size=128, verbose=0), 640)
    return fwd, train, infer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 160])
    parser.add_argument("--cuts", type=int, nargs="+", default=[5])
    args = parser.parse_args()
    state = lite.load_weights()
    rng = np.random.default_rng(0)
    print(f"{'size':>5}{'frozen':>8}{'lower fwd':>11}{'upper train':>13}{'upper fwd':>11}  img/s")
    for size in args.sizes:
        for cut in args.cuts:
            fwd, train, infer = measure(size, cut, state, rng)
            print(f"{size:>5}{cut:>8}{fwd:>11.0f}{train:>13.0f}{infer:>11.0f}")


if __name__ == "__main__":
    main()
