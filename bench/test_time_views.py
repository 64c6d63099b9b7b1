"""Validation accuracy of a shipped model's test-time view sets: uses no test image.

    python bench/test_time_views.py resnet50_transfer --data PATH [--limit 1000]

Loads ``artifacts/MODEL/model.keras``, takes its single-view network (the nested model of a
test-time-view wrapper, or the model itself), rebuilds the run's validation split from
config.json and predicts each of the six views ``core.models.builders.with_tta`` can average:
the image, its mirror, and both moved one pixel diagonally each way. Prints the validation
accuracy of each candidate view set, combined with ``with_tta``'s weights, and each view alone.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from core.models.builders import _pixel_map, single_view_network  # noqa: E402
from core.training import train  # noqa: E402
from core.training.views import trained_spec  # noqa: E402


def view(images: np.ndarray, offset: int, mirror: bool) -> np.ndarray:
    """``with_tta``'s view as numpy indexing: its 0/1 matrices pick one source pixel each."""
    _, height, width, _ = images.shape
    rows = _pixel_map(height, offset).argmax(axis=0)
    cols = _pixel_map(width, offset, mirror).argmax(axis=0)
    return images[:, rows][:, :, cols]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--data", required=True)
    parser.add_argument("--limit", type=int, help="only the first N validation images")
    args = parser.parse_args()
    folder = Path("artifacts") / args.model
    config = json.loads((folder / "config.json").read_text())
    _, split = train.load_split(trained_spec(config, args.data), verbose=0)
    x_val, y_val = split.x_val[: args.limit], split.y_val[: args.limit]
    network = single_view_network(keras.saving.load_model(folder / "model.keras"))
    probs, started = {}, time.time()
    for mirror in (False, True):
        for offset in (0, 1, -1):
            name = f"{'mirror ' if mirror else ''}shift {offset:+d}"
            probs[name] = train.predict_probs(network, view(x_val, offset, mirror))
            seconds = time.time() - started
            accuracy = (probs[name].argmax(1) == y_val).mean()
            print(f"{name:>16}: {accuracy:.4f}  ({seconds:.0f} s so far)", flush=True)
    flip = (probs["shift +0"] + probs["mirror shift +0"]) / 2
    shifted = np.mean([p for k, p in probs.items() if not k.endswith("+0")], axis=0)
    candidates = {"image": probs["shift +0"], "image + mirror": flip}
    candidates["image + mirror + one-pixel shifts"] = (flip + shifted) / 2
    result = {k: round(float((p.argmax(1) == y_val).mean()), 4) for k, p in candidates.items()}
    print(json.dumps({"model": args.model, "n_val": len(y_val), "validation_accuracy": result}))
    print("config.json's validation:", json.dumps(config["validation"]))


if __name__ == "__main__":
    main()
