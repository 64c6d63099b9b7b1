"""Where the test images sit in a model's feature space: a 2-D map, computed once per artifact.

    python -m core.embedding MODEL... [--artifacts DIR]

Each of the 10,000 test images (``artifacts/test_images.npz``, the images of
``test_predictions.npz``) gets the model's penultimate features (the input of its last
Dense(10), as ``core.analysis.ood`` takes them). PCA keeps 50 dimensions; t-SNE (scikit-learn,
seeded)
places them in 2-D. t-SNE cannot place a new point, so an uploaded image is put where its
nearest test images are: the inverse-distance weighted mean of the map positions of its
``NEIGHBOURS`` nearest test images in the 50-D PCA space.

Written atomically into the artifact: ``embedding.npz`` (map positions, PCA mean and axes, the
test images' PCA coordinates) and ``embedding.json`` (settings, seconds, and two measures of
the map: t-SNE's trustworthiness, and how far a test image placed from its neighbours alone
lands from where t-SNE put it).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.io.atomic import atomic_file, write_json
from core.store import artifacts
from core.store.each_model import for_each_model

EMBEDDING_NPZ = "embedding.npz"
EMBEDDING_JSON = "embedding.json"
PCA_DIMS = 50
NEIGHBOURS = 10
PERPLEXITY = 30.0
SEED = 0
CHECK_SAMPLE = 2_000  # images the quality measures use (trustworthiness is quadratic in them)


@dataclass(frozen=True)
class EmbeddingMap:
    """A model's map of the test images and what it takes to place a new image on it."""

    model: str
    coords: np.ndarray  # (N, 2) map positions in test order
    mean: np.ndarray  # (D,) feature mean
    axes: np.ndarray  # (PCA_DIMS, D) PCA axes
    projected: np.ndarray  # (N, PCA_DIMS) the test images' PCA coordinates

    def __len__(self) -> int:
        return len(self.coords)

    def project(self, features: np.ndarray) -> np.ndarray:
        """(M, D) penultimate features -> (M, PCA_DIMS) PCA coordinates."""
        return (np.asarray(features, np.float32) - self.mean) @ self.axes.T

    def neighbours(self, features: np.ndarray, k: int = NEIGHBOURS) -> tuple[np.ndarray, ...]:
        """(rows (M, k), distances (M, k)) of the nearest test images in PCA space."""
        return nearest(self.projected, self.project(features), k)

    def place(self, features: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
        """(M, D) features of new images -> (M, 2) positions on the map."""
        rows, dist = self.neighbours(features, k)
        return weighted_position(self.coords, rows, dist)


def nearest(
    points: np.ndarray, queries: np.ndarray, k: int, exclude_self: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest ``points`` of each query (Euclidean), nearest first."""
    # float64: in float32 the expansion below leaves an image ~1e-3 from itself.
    points = np.asarray(points, np.float64)
    queries = np.asarray(queries, np.float64)
    d2 = ((queries**2).sum(1)[:, None] - 2 * queries @ points.T + (points**2).sum(1)[None, :]).clip(
        min=0
    )
    if exclude_self:  # queries are points[: len(queries)]
        d2[np.arange(len(queries)), np.arange(len(queries))] = np.inf
    rows = np.argpartition(d2, k, axis=1)[:, :k]
    dist = np.sqrt(np.take_along_axis(d2, rows, axis=1))
    order = np.argsort(dist, axis=1)
    return np.take_along_axis(rows, order, axis=1), np.take_along_axis(dist, order, axis=1)


def weighted_position(coords: np.ndarray, rows: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Inverse-distance weighted mean of ``coords[rows]``; an exact match takes its place."""
    weights = 1.0 / np.maximum(dist, 1e-6)
    weights /= weights.sum(axis=1, keepdims=True)
    return (coords[rows] * weights[..., None]).sum(axis=1)


def fit_map(features: np.ndarray, seed: int = SEED) -> tuple[np.ndarray, dict]:
    """(PCA + t-SNE map positions (N, 2), {"mean", "axes", "projected"})."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    features = np.asarray(features, np.float32)
    pca = PCA(n_components=min(PCA_DIMS, *features.shape), random_state=seed)
    projected = pca.fit_transform(features).astype(np.float32)
    tsne = TSNE(
        n_components=2,
        perplexity=min(PERPLEXITY, (len(features) - 1) / 3),
        init="pca",
        learning_rate="auto",
        random_state=seed,
    )
    coords = tsne.fit_transform(projected).astype(np.float32)
    return coords, {
        "mean": pca.mean_.astype(np.float32),
        "axes": pca.components_.astype(np.float32),
        "projected": projected,
    }


def quality(emap: EmbeddingMap, seed: int = SEED, n: int = CHECK_SAMPLE) -> dict:
    """How faithful the map is, on a seeded sample of ``n`` test images.

    ``trustworthiness``: scikit-learn's (1 = the map's 10 nearest neighbours are neighbours in
    the features too). ``placement_error``: the median distance, as a share of the map's
    width, between where t-SNE put an image and where ``place`` puts it from its neighbours
    alone (the image itself left out): how far off an uploaded image's position may be.
    """
    from sklearn.manifold import trustworthiness

    rows = np.sort(np.random.default_rng(seed).choice(len(emap), min(n, len(emap)), False))
    trust = trustworthiness(emap.projected[rows], emap.coords[rows], n_neighbors=NEIGHBOURS)
    order = np.concatenate([rows, np.setdiff1d(np.arange(len(emap)), rows)])
    near, dist = nearest(emap.projected[order], emap.projected[rows], NEIGHBOURS, True)
    placed = weighted_position(emap.coords[order], near, dist)
    width = float(np.ptp(emap.coords[:, 0]))
    error = np.linalg.norm(placed - emap.coords[rows], axis=1) / width
    return {
        "n": int(len(rows)),
        "trustworthiness": round(float(trust), 4),
        "placement_error": round(float(np.median(error)), 4),
    }


# --- the figure --------------------------------------------------------------------------------

COLOURINGS = {
    "class": "true class",
    "correct": "right or wrong",
    "confidence": "confidence",
    "agreement": "how many models are right",
}
RIGHT, WRONG = "#0072B2", "#D55E00"  # Okabe-Ito blue and vermillion
STAR = dict(size=18, symbol="star", color="black", line=dict(width=2, color="white"))


def point_groups(
    colouring: str,
    y_true: np.ndarray,
    probs: np.ndarray,
    right_counts: np.ndarray | None = None,
    n_models: int = 1,
) -> list[tuple[str, np.ndarray, str]]:
    """[(legend label, rows, colour)] of the map's discrete colourings, in legend order."""
    from plotly.colors import qualitative, sample_colorscale

    from core.data.cifar10 import CLASS_NAMES

    if colouring == "class":
        return [
            (name, np.flatnonzero(y_true == i), qualitative.T10[i])
            for i, name in enumerate(CLASS_NAMES)
        ]
    if colouring == "correct":
        right = probs.argmax(axis=1) == y_true
        return [("right", np.flatnonzero(right), RIGHT), ("wrong", np.flatnonzero(~right), WRONG)]
    if colouring == "agreement":
        if right_counts is None:
            raise ValueError("the agreement colouring needs right_counts")
        shades = sample_colorscale("Viridis", [k / max(n_models, 1) for k in range(n_models + 1)])
        return [
            (f"{k} of {n_models} right", np.flatnonzero(right_counts == k), shades[k])
            for k in range(n_models, -1, -1)
        ]
    raise ValueError(f"unknown colouring {colouring!r}; choose one of {', '.join(COLOURINGS)}")


# --- in the artifact ---------------------------------------------------------------------------


def write(artifact_dir: str | os.PathLike, coords: np.ndarray, pca: dict) -> Path:
    path = Path(artifact_dir) / EMBEDDING_NPZ
    with atomic_file(path) as f:
        np.savez_compressed(
            f,
            coords=coords.astype(np.float32),
            mean=pca["mean"],
            axes=pca["axes"],
            projected=pca["projected"].astype(np.float16),
        )
    return path


def load(name: str, root: str | os.PathLike | None = None) -> EmbeddingMap | None:
    """``name``'s map, or None when it has none (or it does not match its test predictions)."""
    art = artifacts.Artifact(name, root)
    path = art.path / EMBEDDING_NPZ
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            emap = EmbeddingMap(
                name,
                z["coords"],
                z["mean"],
                z["axes"],
                z["projected"].astype(np.float32),
            )
        n_test = len(art.predictions()["y_true"])
    except (OSError, ValueError, KeyError, EOFError, artifacts.ArtifactError):
        return None
    return emap if len(emap) == n_test else None


def summary(name: str, root: str | os.PathLike | None = None) -> dict | None:
    """``embedding.json`` of ``name``, or None."""
    try:
        return artifacts.Artifact(name, root)._json(EMBEDDING_JSON)
    except artifacts.ArtifactError:
        return None


def feature_extractor(model):
    """A Keras model: (N, 32, 32, 3) floats in [0, 1] -> ``model``'s penultimate features."""
    from core.analysis import ood

    return ood.feature_model(model, parts=())


def features_of(model, images: np.ndarray) -> np.ndarray:
    """Penultimate features of uint8 (N, 32, 32, 3) images, in batches."""
    from core.analysis import ood

    return ood.extract(feature_extractor(model), images)


def backfill(
    name: str,
    root: str | os.PathLike | None = None,
    seed: int = SEED,
    features: np.ndarray | None = None,
) -> dict:
    """Compute ``name``'s map of its test images and write embedding.npz and embedding.json
    (from ``features``, its test images' penultimate features, when already extracted)."""
    from core.store.samples import load_test_images

    started = time.time()
    art = artifacts.Artifact(name, root)
    samples = load_test_images(root)
    y_true = art.predictions()["y_true"]
    if not np.array_equal(samples.labels[: len(y_true)], y_true):
        raise artifacts.ArtifactError(
            f"{name}: its test predictions are not in the order of the shipped test images"
        )
    if features is None or len(features) != len(y_true):
        features = features_of(art.load_model(), samples.images[: len(y_true)])
    extracted = time.time() - started
    coords, pca = fit_map(features, seed)
    write(art.path, coords, pca)
    emap = load(name, root)
    result = {
        "model": name,
        "n": int(len(coords)),
        "features": int(features.shape[1]),
        "method": f"PCA to {pca['axes'].shape[0]} dimensions, then t-SNE (scikit-learn)",
        "perplexity": PERPLEXITY,
        "seed": seed,
        "placing_new_images": f"inverse-distance weighted mean of the {NEIGHBOURS} nearest "
        "test images in PCA space",
        "quality": quality(emap, seed),
        "seconds": {"features": round(extracted, 1), "total": round(time.time() - started, 1)},
        "command": f"python -m core.embedding {name}",
    }
    write_json(art.path / EMBEDDING_JSON, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.embedding",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("models", nargs="+", help="artifact names (e.g. custom vgg12)")
    parser.add_argument("--artifacts", help="artifacts folder (default: artifacts/)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own log lines"
    )
    args = parser.parse_args(argv)

    def one(name: str) -> str:
        result = backfill(name, args.artifacts, args.seed)
        q = result["quality"]
        return (
            f"{name}: {result['n']:,} images, trustworthiness {q['trustworthiness']:.3f}, "
            f"placement error {q['placement_error']:.1%} of the map's width, "
            f"{result['seconds']['total']:.0f} s"
        )

    return for_each_model(args.models, one)
