"""Frozen-feature probe of VGG16's ImageNet convolution layers per input size, on validation.

    python bench/vgg16_probe.py --data PATH [--sizes 64 96 128] [--fit 1000] [--val 1000]

For each input size: the whole frozen VGG16 (blocks 1-5, packaged ImageNet weights) runs over
``--fit`` training images and ``--val`` images of the validation split (the same hold-out
``core.train`` uses); a logistic regression on the globally pooled block-5 features is fitted
on the first and scored on the second. Prints that accuracy and the images/s of the frozen
part up to block 4 and of block 5 alone, which is what caching and each fine-tuning epoch cost.
No test image is used: the probe chooses a setting.
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
from sklearn.linear_model import LogisticRegression  # noqa: E402

from core.data.cifar10 import load_cifar10, scale, split_validation  # noqa: E402
from core.models.imagenet import build_transfer_model  # noqa: E402
from core.training.finetune import split_parts  # noqa: E402


def frozen_parts(size: int) -> tuple[keras.Model, keras.Model]:
    """(image -> block-4 maps, block-4 maps -> pooled block-5 features), ImageNet weights."""
    encoder, trainer = split_parts(build_transfer_model("vgg16", "imagenet", size, cut="block4"))
    _, tuned, pool, *_ = trainer.layers
    maps = keras.Input(encoder.output_shape[1:])
    return encoder, keras.Model(maps, pool(tuned(maps)))


def run(part: keras.Model, x: np.ndarray) -> tuple[np.ndarray, float]:
    part.predict_on_batch(x[:64])  # tracing
    start = time.perf_counter()
    out = np.concatenate([part.predict_on_batch(x[i : i + 64]) for i in range(0, len(x), 64)])
    return out, len(x) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument("--fit", type=int, default=1000)
    parser.add_argument("--val", type=int, default=1000)
    args = parser.parse_args()
    data = load_cifar10(args.data, progress=False)
    split = split_validation(data.x_train, data.y_train)
    x = scale(np.concatenate([split.x_fit[: args.fit], split.x_val[: args.val]]))
    y_fit, y_val = split.y_fit[: args.fit], split.y_val[: args.val]
    print(f"{args.fit} fit / {args.val} validation images, logistic regression on block-5 GAP")
    for size in args.sizes:
        lower, block5 = frozen_parts(size)
        maps, lower_speed = run(lower, x)
        features, block5_speed = run(block5, maps)
        probe = LogisticRegression(max_iter=2000, C=0.5)
        probe.fit(features[: args.fit], y_fit)
        accuracy = probe.score(features[args.fit :], y_val)
        print(
            f"{size:4d} px  probe {accuracy:.3f}   blocks 1-4 {lower_speed:6.1f} images/s"
            f"   block 5 forward {block5_speed:6.1f} images/s",
            flush=True,
        )


if __name__ == "__main__":
    main()
