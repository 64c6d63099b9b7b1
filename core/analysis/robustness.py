"""How does a model hold up? Accuracy under common corruptions of the test images.

    python -m core.robustness MODEL [MODEL...] [--n 2000] [--seed 0]

Six corruptions, five severities each, modelled on CIFAR-10-C (Hendrycks & Dietterich, 2019):
Gaussian noise, defocus blur, brightness, contrast, JPEG re-compression and pixelation. They
are applied to a fixed, seeded, class-balanced subset of the shipped test images (2,000 by
default: 200 per class), so every model is measured on the same corrupted pixels. The result is
stored as ``robustness.json`` in the artifact, written to a temporary file and renamed, so an
interrupted run leaves the previous file (or none), never half of one. Each finished pass is also
kept in the artifact's work folder (never shipped), so a run stopped after hours (ResNet50's
2,000 images take about three on two cores) goes on from its last pass when started again with
the same model file, images and seed.

API:

    CORRUPTIONS: name -> Corruption (title, the five severity parameters, .apply)
    corrupt(images, name, severity, seed=0) -> uint8 images
    balanced_subset(labels, n=2000, seed=0) -> sorted row indices
    evaluate(model, images, labels, seed=0, progress=False, resume=None) -> dict
        (robustness.json's content; ``resume``: a file that keeps the finished passes)
    run(name, root=None, n=2000, seed=0, progress=True) -> dict (and writes robustness.json)
    load(name, root=None) -> dict | None;  summary_line(result) -> str
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from core.data.cifar10 import NUM_CLASSES, scale
from core.io.atomic import write_json
from core.io.digest import file_sha256
from core.models.graph import compiled
from core.store import artifacts
from core.store.each_model import for_each_model

ROBUSTNESS_FILE = "robustness.json"
PROGRESS_FILE = "robustness-progress.json"  # in the artifact's work folder
SEVERITIES = (1, 2, 3, 4, 5)
DEFAULT_N = 2000


def _gaussian_noise(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return x + rng.normal(0.0, sigma, size=x.shape)


def _disk_kernel(radius: float) -> np.ndarray:
    """A flat disk of ``radius`` pixels, its rim anti-aliased by the share of each pixel inside."""
    half = int(np.ceil(radius)) + 1
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    kernel = np.clip(radius + 0.5 - np.hypot(yy, xx), 0.0, 1.0)
    return kernel / kernel.sum()


def _defocus_blur(x: np.ndarray, radius: float, rng: np.random.Generator) -> np.ndarray:
    kernel = _disk_kernel(radius)[None, :, :, None]  # the same disk on every image and channel
    return ndimage.convolve(x, kernel, mode="reflect")


def _brightness(x: np.ndarray, shift: float, rng: np.random.Generator) -> np.ndarray:
    return x + shift


def _contrast(x: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - mean) * factor + mean


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def _jpeg(x: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    out = np.empty_like(x)
    for i, image in enumerate(_to_uint8(x)):
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
        buf.seek(0)
        with Image.open(buf) as im:
            out[i] = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    return out


def _pixelate(x: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    out = np.empty_like(x)
    height, width = x.shape[1:3]
    for i, image in enumerate(_to_uint8(x)):
        small = Image.fromarray(image).resize((int(size), int(size)), Image.Resampling.BOX)
        out[i] = np.asarray(small.resize((width, height), Image.Resampling.NEAREST)) / 255.0
    return out


@dataclass(frozen=True)
class Corruption:
    name: str
    title: str
    parameter: str  # what the five numbers are
    levels: tuple[float, float, float, float, float]  # severity 1..5
    function: Callable[[np.ndarray, float, np.random.Generator], np.ndarray]

    def apply(self, images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
        """uint8 (N, H, W, 3) -> the corrupted uint8 images at ``severity`` (1-5)."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be 1-5, got {severity}")
        x = np.asarray(images, dtype=np.float64) / 255.0
        return _to_uint8(self.function(x, self.levels[severity - 1], rng))


# CIFAR-10-C's levels where they carry over to 32x32 images; JPEG and pixelation go further
# because the JPEG copy is already compressed (quality ~75) and CIFAR-10-C's mildest
# pixelation (to 30 px) hardly changes a 32 px image.
CORRUPTIONS: dict[str, Corruption] = {
    c.name: c
    for c in (
        Corruption(
            "gaussian_noise",
            "Gaussian noise",
            "standard deviation (pixel range 0-1)",
            (0.04, 0.06, 0.08, 0.09, 0.10),
            _gaussian_noise,
        ),
        Corruption(
            "defocus_blur",
            "Defocus blur",
            "disk radius (pixels)",
            (0.75, 1.0, 1.5, 2.0, 2.5),
            _defocus_blur,
        ),
        Corruption(
            "brightness",
            "Brightness",
            "added to every pixel (range 0-1)",
            (0.05, 0.1, 0.15, 0.2, 0.3),
            _brightness,
        ),
        Corruption(
            "contrast",
            "Contrast",
            "contrast kept (1 = unchanged)",
            (0.75, 0.5, 0.4, 0.3, 0.15),
            _contrast,
        ),
        Corruption(
            "jpeg",
            "JPEG re-compression",
            "JPEG quality",
            (80, 60, 40, 25, 10),
            _jpeg,
        ),
        Corruption(
            "pixelate",
            "Pixelation",
            "side of the downscaled image (pixels)",
            (28, 24, 20, 16, 12),
            _pixelate,
        ),
    )
}


def _rng(seed: int, name: str, severity: int) -> np.random.Generator:
    """One stream per (corruption, severity): the same noise whatever else is computed."""
    return np.random.default_rng([seed, list(CORRUPTIONS).index(name), severity])


def corrupt(images: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """``images`` (uint8) under corruption ``name`` at ``severity`` 1-5, reproducibly."""
    return CORRUPTIONS[name].apply(images, severity, _rng(seed, name, severity))


def balanced_subset(labels: np.ndarray, n: int = DEFAULT_N, seed: int = 0) -> np.ndarray:
    """``n // classes`` rows of every class, drawn with ``seed``; sorted row indices."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    per_class = n // len(classes)
    rng = np.random.default_rng(seed)
    rows = []
    for k in classes:
        members = np.flatnonzero(labels == k)
        if len(members) < per_class:
            raise ValueError(f"class {k} has {len(members)} images, fewer than {per_class}")
        rows.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(rows))


def _accuracy(graph, images: np.ndarray, labels: np.ndarray, batch_size: int) -> float:
    right = 0
    for start in range(0, len(images), batch_size):
        batch = scale(images[start : start + batch_size])
        probs = np.asarray(graph(batch))
        right += int(np.sum(probs.argmax(axis=1) == labels[start : start + batch_size]))
    return right / len(labels)


def _run_key(model_key: str, images: np.ndarray, labels: np.ndarray, seed: int) -> str:
    digest = hashlib.sha256(model_key.encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels).tobytes())
    digest.update(json.dumps([seed, {n: c.levels for n, c in CORRUPTIONS.items()}]).encode())
    return digest.hexdigest()


class _Progress:
    """Accuracies of finished passes, kept in ``path`` (when given) under the run's ``key``; a
    file for another key (another model file, subset or seed) is started afresh."""

    def __init__(self, path: str | os.PathLike | None, key: str):
        self.path, self.key, self.done = path, key, {}
        if path is not None:
            try:
                kept = json.loads(Path(path).read_text())
            except (OSError, ValueError):
                kept = {}
            if kept.get("key") == key:
                self.done = dict(kept.get("done", {}))

    def has(self, name: str, severity: int) -> bool:
        return f"{name}/{severity}" in self.done

    def get(self, name: str, severity: int) -> float:
        return self.done[f"{name}/{severity}"]

    def add(self, name: str, severity: int, accuracy: float) -> None:
        self.done[f"{name}/{severity}"] = accuracy
        if self.path is not None:
            write_json(self.path, {"key": self.key, "done": self.done})


def evaluate(
    model,
    images: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    batch_size: int = 64,  # x six views for ResNet50: 384 160-px images through it at once
    progress: bool = False,
    resume: str | os.PathLike | None = None,
    model_key: str = "",
) -> dict:
    """Accuracy of ``model`` on ``images`` clean and under every corruption and severity.

    With ``resume``, each finished pass is written there and passes already there for the same
    ``model_key`` (say, the model file's hash), images, labels and seed are not run again."""
    from tqdm import tqdm

    graph = compiled(model)  # one compiled graph, not op-by-op calls, for 31 passes
    labels = np.asarray(labels)
    steps = [("clean", 0)] + [(name, s) for name in CORRUPTIONS for s in SEVERITIES]
    done = _Progress(resume, _run_key(model_key, images, labels, seed))
    with tqdm(total=len(steps), desc="clean", unit="set", disable=not progress) as bar:
        bar.update(sum(done.has(*step) for step in steps))
        for name, severity in steps:
            if done.has(name, severity):
                continue
            title = (
                "clean" if name == "clean" else f"{CORRUPTIONS[name].title}, severity {severity}"
            )
            bar.set_description(title)
            pixels = images if name == "clean" else corrupt(images, name, severity, seed)
            done.add(name, severity, _accuracy(graph, pixels, labels, batch_size))
            bar.update()
    clean = done.get("clean", 0)
    accuracy = {name: [done.get(name, s) for s in SEVERITIES] for name in CORRUPTIONS}
    mean = float(np.mean([a for values in accuracy.values() for a in values]))
    return {
        "n_images": int(len(labels)),
        "seed": seed,
        "clean_accuracy": clean,
        "mean_corrupted_accuracy": mean,
        "drop": clean - mean,
        "corruptions": {
            name: {
                "title": c.title,
                "parameter": c.parameter,
                "levels": list(c.levels),
                "accuracy": accuracy[name],
            }
            for name, c in CORRUPTIONS.items()
        },
    }


def run(
    name: str,
    root: str | os.PathLike | None = None,
    n: int = DEFAULT_N,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Measure a trained artifact on the shipped test images and store ``robustness.json``."""
    from core.store.samples import load_test_images

    art = artifacts.Artifact(name, root)
    status = art.status()
    if not status.ready:
        raise artifacts.ArtifactError(f"{name} is {status.state}: {status.reason}")
    samples = load_test_images(root)
    rows = balanced_subset(samples.labels, n, seed)
    model = art.load_model()
    started = time.time()
    progress_file = artifacts.work_dir(name, root) / PROGRESS_FILE
    progress_file.parent.mkdir(parents=True, exist_ok=True)
    result = evaluate(
        model,
        samples.images[rows],
        samples.labels[rows],
        seed,
        progress=progress,
        resume=progress_file,
        model_key=file_sha256(art.model_path),
    )
    progress_file.unlink(missing_ok=True)
    result = {
        "model": name,
        **result,
        "subset": f"{len(rows):,} test images, {len(rows) // NUM_CLASSES} per class "
        f"(seed {seed}), from {samples.dataset_id}",
        "wall_time_s": round(time.time() - started, 1),
        "command": f"python -m core.robustness {name}"
        + (f" --n {n}" if n != DEFAULT_N else "")
        + (f" --seed {seed}" if seed else ""),
    }
    write_json(art.path / ROBUSTNESS_FILE, result)
    return result


def load(name: str, root: str | os.PathLike | None = None) -> dict | None:
    """The artifact's stored robustness result, or None if it has none yet."""
    path = artifacts.Artifact(name, root).path / ROBUSTNESS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def summary_line(result: dict) -> str:
    """``0.712 mean accuracy under corruption, 0.190 below its clean 0.902``."""
    return (
        f"{result['mean_corrupted_accuracy']:.3f} mean accuracy under corruption, "
        f"{result['drop']:.3f} below its clean {result['clean_accuracy']:.3f} "
        f"({result['n_images']:,} test images)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.robustness",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("models", nargs="+", help="artifact names (e.g. vgg12 vgg12_opt)")
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="test images (class-balanced)")
    parser.add_argument("--seed", type=int, default=0, help="subset and noise seed")
    parser.add_argument("--artifacts", help="artifacts folder (default: artifacts/)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own log lines"
    )
    args = parser.parse_args(argv)

    def one(name: str) -> str:
        result = run(name, args.artifacts, args.n, args.seed, progress=not args.quiet)
        return f"{name}: {summary_line(result)}; {result['wall_time_s']:.0f} s"

    return for_each_model(args.models, one)
