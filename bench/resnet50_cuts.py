"""Fine-tuning speed of ResNet50 transfer per frozen cut: what one epoch on cached features costs.

    python bench/resnet50_cuts.py [--cuts conv4 conv4_block3] [--size 128] [--steps 15]

For each cut, builds ``resnet50_transfer`` with the packaged ImageNet weights, splits it as
``core.train`` does (the frozen part's outputs are cached; the rest trains on them, BatchNorm
statistics frozen) and times ``train_on_batch`` of the trainable part on random features of the
cached shape (batch 64, SGD with momentum, after two warm-up steps). Also times the frozen part
on random images, which is what caching costs. Prints images/s and minutes per 45,000-image
epoch; uses no CIFAR-10 image.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from core.models.imagenet import build_transfer_model  # noqa: E402
from core.training.finetune import split_parts  # noqa: E402


def images_per_second(step, inputs: tuple, steps: int) -> float:
    step(*inputs), step(*inputs)  # tracing
    start = time.perf_counter()
    for _ in range(steps):
        step(*inputs)
    return len(inputs[0]) * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cuts", nargs="+", default=["conv4", "conv4_block3"])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=15)
    args = parser.parse_args()
    batch, rng = 64, np.random.default_rng(0)
    images = rng.random((batch, 32, 32, 3), dtype=np.float32)
    labels = keras.utils.to_categorical(rng.integers(0, 10, batch), 10)
    print(f"{args.size} px, batch {batch}")
    for cut in args.cuts:
        encoder, trainer = split_parts(build_transfer_model("resnet50", "imagenet", args.size, cut))
        features = rng.random((batch, *encoder.output_shape[1:]), dtype=np.float32)
        trainer.compile(keras.optimizers.SGD(0.01, momentum=0.9), "categorical_crossentropy")
        train = images_per_second(trainer.train_on_batch, (features, labels), args.steps)
        cache = images_per_second(encoder.predict_on_batch, (images,), args.steps)
        shape = "x".join(map(str, encoder.output_shape[1:]))
        print(
            f"cut {cut:<13} cached {shape:<10} train {train:6.1f} images/s "
            f"({45_000 / train / 60:5.1f} min an epoch)   frozen part {cache:6.1f} images/s",
            flush=True,
        )


if __name__ == "__main__":
    main()
