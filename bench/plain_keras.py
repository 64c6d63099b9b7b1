"""Score a shipped model with plain Keras, Pillow and numpy only: no import of this project.

    python bench/plain_keras.py artifacts/vgg16_transfer/model.keras PATH/test

``PATH/test`` is a folder of class folders (``airplane/``, ``automobile/``, ... as in the JPEG
copy of CIFAR-10). Every image is decoded with Pillow, scaled to [0, 1] and given to the model
as it loads with ``keras.saving.load_model``; the printed accuracy should equal the model's
metrics.json, which proves the file carries everything it needs. Copy this file anywhere:
it reads nothing else from the repository.
"""

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def main(model_file: str, folder: str) -> None:
    started = time.time()
    model = keras.saving.load_model(model_file)
    root = Path(folder)
    files = [(f, c) for c, name in enumerate(CLASSES) for f in sorted((root / name).iterdir())]
    images = [np.asarray(Image.open(f).convert("RGB")) for f, _ in files]
    x = np.stack(images).astype("float32") / 255.0
    y = np.array([c for _, c in files])
    probs = model.predict(x, batch_size=250, verbose=0)
    accuracy = float((probs.argmax(axis=1) == y).mean())
    seconds = time.time() - started
    print(
        json.dumps(
            {
                "model": model_file,
                "n": len(y),
                "accuracy": round(accuracy, 4),
                "seconds": round(seconds, 1),
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
