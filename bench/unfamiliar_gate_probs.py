"""ImageNet probabilities of the unfamiliar-image choosing set and CIFAR-10 validation images.

    python bench/unfamiliar_gate_probs.py --data PATH --out probs.npz [--gate lite0|resnet50]
        [--size 224] [--val-limit 5000]
    python bench/unfamiliar_gate_probs.py --data PATH --out test.npz --test   # after choosing

The first half of choosing the unfamiliar-image gate (``core.analysis.imagenet_gate``);
``bench/unfamiliar_gate_choose.py`` reads what this writes. The choosing set
(``bench/unfamiliar_choosing.py``) goes through the ImageNet classifier at full resolution,
as an upload does; CIFAR-10 images go through the same resize from 32x32. ``--test`` does the
CIFAR-10 test split alone, to be measured once after the choice (never chosen on).
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import unfamiliar_choosing  # noqa: E402
from PIL import Image  # noqa: E402

from core.analysis import imagenet_gate  # noqa: E402


def probabilities(model, images, size: int, batch: int = 32) -> np.ndarray:
    from tqdm import tqdm

    out = []
    for i in tqdm(range(0, len(images), batch), desc="ImageNet", leave=False):
        x = np.stack([imagenet_gate.gate_input(im, size) for im in images[i : i + batch]])
        out.append(np.asarray(model(x), dtype=np.float32))
    return np.concatenate(out)


def present_scores_of(images: np.ndarray) -> tuple[str, np.ndarray]:
    """(model, its unfamiliar-image score of each uint8 32x32 image): the model that decides
    the flag today (``core.analysis.ood.Judge``)."""
    from core.analysis import ood
    from core.store import artifacts
    from core.store.catalog import list_models

    judge = ood.Judge.from_artifacts(list_models())
    model = artifacts.Artifact(judge.model).load_model()
    features = ood.feature_model(model, tuple(name for name, _ in judge.scorer.layout))
    return judge.model, judge.scorer.score(ood.extract(features, images))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--gate", default="lite0", choices=imagenet_gate.GATES)
    parser.add_argument("--size", type=int, default=imagenet_gate.SIZE)
    parser.add_argument("--val-limit", type=int, default=5000)
    parser.add_argument("--test", action="store_true", help="the CIFAR-10 test split only")
    args = parser.parse_args()

    from core.data.cifar10 import load_cifar10, split_validation

    dataset = load_cifar10(args.data, progress=False)
    split = split_validation(dataset.x_train, dataset.y_train, 0.1, seed=0)
    x_val, y_val = split.x_val[: args.val_limit], split.y_val[: args.val_limit]
    model = imagenet_gate.compiled_gate(args.gate, args.size)
    started = time.time()
    if args.test:  # measured once, after the choice: nothing else in this file
        arrays = {
            "test": probabilities(model, [Image.fromarray(x) for x in dataset.x_test], args.size),
            "y_test": dataset.y_test,
            "test_present": present_scores_of(dataset.x_test)[1],
        }
    else:
        choosing = unfamiliar_choosing.build()
        arrays = {
            "choose": probabilities(model, choosing.images, args.size),
            "choose_kinds": np.array(choosing.kinds),
            "val": probabilities(model, [Image.fromarray(x) for x in x_val], args.size),
            "y_val": y_val,
        }
        small = np.stack([unfamiliar_choosing.shrunk(im) for im in choosing.images])
        arrays["present_model"], arrays["choose_present"] = present_scores_of(small)
        arrays["val_present"] = present_scores_of(x_val)[1]
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
