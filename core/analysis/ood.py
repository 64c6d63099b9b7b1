"""Is an image unlike CIFAR-10? A score from the model's features, a threshold, a flag.

    python -m core.ood MODEL... [--data PATH] [--fit-limit 10000]   # fit, choose, store

Every model answers with confidence for images of none of the ten classes (a page of text, a
flower, the Hubble deep field). The top probability is a weak signal; the model's features say
more. For each model this module fits, on a seeded subset of the **training split** (the images
the model was fitted on, never the validation split), class means and one shared covariance
(Ledoit-Wolf shrinkage) of each part of its features, and scores an image by:

* ``mahalanobis``: the squared Mahalanobis distance of its penultimate features (the input of
  the last Dense(10)) to the nearest class mean (Lee et al. 2018);
* ``layer:NAME``: the same for a Conv2D layer's output averaged over the image (every Conv2D of
  models whose convolutions sit in the model itself; a transfer model gives only penultimate);
* ``energy``: ``-logsumexp(logits)``, the logits rebuilt from the features (Liu et al. 2020);
* ``msp``: one minus the top softmax probability (the baseline the issue found too weak);
* ``combined`` (Mahalanobis + energy), ``layers`` (sum over the Conv2D layers) and
  ``layers_max``: scores put on one scale by their validation mean and spread.

Higher means more unfamiliar. The **threshold** is the 95th percentile of the score on the
CIFAR-10 validation split (the split ``core.training.train`` held out, rebuilt from config.json's
seed),
so 95 % of validation images pass. The method kept is the one that flags most of the
``choose`` part of the unfamiliar-image set (``core.analysis.unfamiliar``) at that threshold; the
``test`` part, from other sources, only measures it (AUROC, detection rate at 5 % false alarms
on validation, flag rate on the CIFAR-10 test set). All of it goes into the artifact:
``ood.json`` (method, threshold, measurements) and ``ood.npz`` (class means, precision matrices,
classifier weights, validation spreads), both written atomically. The model whose score decides
the flag is the one that flags most of the choosing set (``decider``).

Features are those of the plain image (a test-time-augmentation wrapper's first view). A model
with no Dense(10) to read them from (an added TFLite model, a network ending in a convolution)
gives its log-probabilities instead (``LogProbabilities``): Mahalanobis and msp only, no energy,
and it never decides the flag. Reading a fitted ``Scorer`` needs NumPy only; ``feature_model``
imports Keras when called.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.special import logsumexp, softmax

from core.io.atomic import atomic_file, write_json
from core.store import artifacts
from core.store.each_model import for_each_model

OOD_JSON = "ood.json"
OOD_NPZ = "ood.npz"
PASS_RATE = 0.95  # share of CIFAR-10 validation images below the threshold
FIT_LIMIT = 10_000
BATCH = 250
WIDE = 1024  # feature widths above this store their precision matrix as float16


# --- features ---------------------------------------------------------------------------------

PENULTIMATE = "penultimate"
LOG_PROBABILITIES = "log-probabilities"  # ood.json's "features_from" for the fallback


class NoClassifier(ValueError):
    """The model has no Dense(10) classifier whose input could serve as its features."""


def _classifier(model):
    """The last Dense layer with 10 units directly in ``model``, or None (an added model's
    class reordering, ``core.models.imported.CLASS_ORDER_LAYER``, is not a classifier)."""
    import keras

    from core.models.imported import CLASS_ORDER_LAYER

    dense = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense)
        and layer.units == 10
        and layer.name != CLASS_ORDER_LAYER
    ]
    return dense[-1] if dense else None


def _own_features(model, dense, parts: tuple[str, ...] | None = None) -> tuple:
    """(tensor in ``model``'s graph: penultimate features then every Conv2D's output averaged
    over the image (only those in ``parts`` if given), layout ((part, width), ...))."""
    import keras

    convs = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D)
        and layer.name != "imagenet_preprocess"
        and (parts is None or layer.name in parts)
    ]
    parts = [dense.input] + [keras.ops.mean(c.output, axis=(1, 2)) for c in convs]
    layout = ((PENULTIMATE, int(dense.input.shape[-1])),) + tuple(
        (c.name, int(c.output.shape[-1])) for c in convs
    )
    tensor = parts[0] if len(parts) == 1 else keras.ops.concatenate(parts, axis=-1)
    return tensor, layout


def _features_and_head(model, parts: tuple[str, ...] | None = None):
    """(Keras model: image -> features, the classifier Dense, logit scale, layout)."""
    import keras

    from core.models.builders import single_view_network

    model = single_view_network(model)
    dense = _classifier(model)
    if dense is not None:
        after = model.layers[model.layers.index(dense) + 1 :]
        scale = next((float(x.scale) for x in after if isinstance(x, keras.layers.Rescaling)), 1.0)
        tensor, layout = _own_features(model, dense, parts)
        return keras.Model(model.inputs[0], tensor), dense, scale, layout
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not nested:
        raise NoClassifier(f"{model.name} has no Dense(10) classifier to take features from.")
    top = nested[-1]  # a transfer model's head (its Conv2Ds are nested further: not taken)
    head, dense, scale, layout = _features_and_head(top, parts)
    inputs = keras.Input(model.input_shape[1:])
    x = inputs
    for layer in model.layers[1 : model.layers.index(top)]:  # a chain: resize, scale, backbone
        x = layer(x)
    return keras.Model(inputs, head(x)), dense, scale, layout


class LogProbabilities:
    """The features of a model without a Dense(10) classifier: its log-probabilities."""

    output_shape = (None, 10)

    def __init__(self, model):
        self.model = model

    def __call__(self, images, training: bool = False) -> np.ndarray:
        probs = np.asarray(self.model(images, training=False), dtype=np.float64)
        return np.log(np.clip(probs, 1e-12, None)).astype(np.float32)


def _features_or_log_probabilities(model, parts: tuple[str, ...] | None = None):
    """``_features_and_head``, or (``LogProbabilities``, no Dense, 1.0, its layout) for a model
    with no Dense(10) classifier (an added TFLite model has no layers at all)."""
    from core.models.tflite import TFLiteModel

    if not isinstance(model, TFLiteModel):
        try:
            return _features_and_head(model, parts)
        except NoClassifier:
            pass
    return LogProbabilities(model), None, 1.0, ((PENULTIMATE, 10),)


def feature_model(model, parts: tuple[str, ...] | None = None):
    """``model``'s plain-image features (only ``parts`` if given) as one Keras model (or a
    ``LogProbabilities``)."""
    return _features_or_log_probabilities(model, parts)[0]


def feature_layout(model) -> tuple[tuple[str, int], ...]:
    """((part, width), ...) of ``feature_model``'s output, the penultimate features first."""
    return _features_or_log_probabilities(model)[3]


def _head_weights(dense, scale: float) -> tuple[np.ndarray, np.ndarray, float]:
    if dense is None:  # log-probabilities are their own logits
        return np.eye(10, dtype=np.float32), np.zeros(10, np.float32), 1.0
    kernel, bias = (np.asarray(w, dtype=np.float32) for w in dense.get_weights())
    return kernel, bias, scale


def classifier_weights(model) -> tuple[np.ndarray, np.ndarray, float]:
    """(kernel (D, 10), bias (10,), logit scale): logits = (features @ kernel + bias) * scale."""
    _, dense, scale, _ = _features_or_log_probabilities(model)
    return _head_weights(dense, scale)


def extract(features, images: np.ndarray, batch: int = BATCH) -> np.ndarray:
    """Features of uint8 (N, 32, 32, 3) images, in batches."""
    from core.data.cifar10 import scale

    out = [
        np.asarray(features(scale(images[i : i + batch]), training=False), dtype=np.float32)
        for i in range(0, len(images), batch)
    ]
    return np.concatenate(out) if out else np.zeros((0, features.output_shape[-1]), np.float32)


def serving_model(model, parts: tuple[str, ...] | None = None):
    """A Keras model: image -> [``model``'s probabilities, its features (only ``parts``)].

    One forward pass when the classifier sits in ``model`` itself (custom, Model 1); a
    test-time-augmentation wrapper needs one more pass of its plain view for the features.
    Every Conv2D's mean taken at once made Model 1 four times slower (34 -> 145 ms per image:
    its outputs then feed two ops, which breaks the fused kernels); one costs 6 ms.
    """
    import keras

    from core.models.builders import single_view_network

    dense = _classifier(model)
    if single_view_network(model) is model and dense is not None:
        features = _own_features(model, dense, parts)[0]
        return keras.Model(model.inputs[0], [model.outputs[0], features])
    inputs = keras.Input(model.input_shape[1:])
    return keras.Model(inputs, [model(inputs), feature_model(model, parts)(inputs)])


# --- scores -----------------------------------------------------------------------------------


def fit_gaussian(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(class means (10, D), precision (D, D) of the shared, Ledoit-Wolf shrunk covariance)."""
    from sklearn.covariance import LedoitWolf

    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    means = np.stack([features[labels == c].mean(axis=0) for c in range(10)])
    centred = features - means[labels]
    covariance = LedoitWolf(assume_centered=True).fit(centred).covariance_
    return means.astype(np.float32), np.linalg.inv(covariance).astype(np.float32)


def mahalanobis(features: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each row to its nearest class mean."""
    f = np.asarray(features, dtype=np.float64)
    means, precision = means.astype(np.float64), precision.astype(np.float64)
    fp = f @ precision
    own = np.einsum("nd,nd->n", fp, f)[:, None]
    cross = fp @ means.T
    centre = np.einsum("cd,cd->c", means @ precision, means)[None, :]
    return np.min(own - 2 * cross + centre, axis=1)


def energy(logits: np.ndarray) -> np.ndarray:
    """``-logsumexp(logits)``: higher for images the classifier has less evidence for."""
    return -logsumexp(np.asarray(logits, dtype=np.float64), axis=1)


def msp(logits: np.ndarray) -> np.ndarray:
    """One minus the top softmax probability."""
    return 1.0 - softmax(np.asarray(logits, dtype=np.float64), axis=1).max(axis=1)


@dataclass(frozen=True)
class Scorer:
    """A model's fitted statistics and chosen method; ``score`` needs NumPy only.

    Features are laid out as ``layout`` says: the penultimate features, then (for models whose
    convolutions sit in the model itself) each Conv2D's output averaged over the image.
    """

    method: str
    threshold: float
    layout: tuple[tuple[str, int], ...]
    gaussians: dict[str, tuple[np.ndarray, np.ndarray]]  # part -> (class means, precision)
    kernel: np.ndarray  # (D, 10), D the penultimate width
    bias: np.ndarray  # (10,)
    logit_scale: float = 1.0
    standardise: dict[str, tuple[float, float]] = field(default_factory=dict)  # validation
    # False when the features are log-probabilities: their logits lose the constant that
    # energy measures, so there is no energy (nor the combined score built on it).
    logits: bool = True

    def parts(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """``features`` split into its parts by ``layout``."""
        f = np.asarray(features, dtype=np.float64)
        ends = np.cumsum([width for _, width in self.layout])
        if f.shape[1] != ends[-1]:
            raise ValueError(f"features have {f.shape[1]} columns, the layout {ends[-1]}")
        return {name: f[:, end - w : end] for (name, w), end in zip(self.layout, ends, strict=True)}

    def all_scores(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """Every method's score of each row of ``features``."""
        parts = self.parts(features)
        logits = (parts[PENULTIMATE] @ self.kernel + self.bias) * self.logit_scale
        out = {"mahalanobis": mahalanobis(parts[PENULTIMATE], *self.gaussians[PENULTIMATE])}
        if self.logits:
            out["energy"] = energy(logits)
        out["msp"] = msp(logits)
        for name, _ in self.layout[1:]:
            out[f"layer:{name}"] = mahalanobis(parts[name], *self.gaussians[name])
        return out | self._standardised(out)

    def _standardised(self, out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Sums of scores put on one scale by their validation mean and spread."""
        if not self.standardise or "energy" not in out:
            return {}

        def z(key: str) -> np.ndarray:
            mean, std = self.standardise[key]
            return (out[key] - mean) / std

        combined = {"combined": z("mahalanobis") + z("energy")}
        layers = [key for key in out if key.startswith("layer:")]
        if layers:
            combined["layers"] = np.sum([z(key) for key in layers], axis=0)
            combined["layers_max"] = np.max([z(key) for key in layers], axis=0)
        return combined

    def restricted(self) -> Scorer:
        """This scorer over only the parts its method needs (the penultimate features first)."""
        if self.method in ("layers", "layers_max"):
            return self
        keep = {PENULTIMATE, self.method.removeprefix("layer:")}
        layout = tuple(p for p in self.layout if p[0] in keep)
        gaussians = {k: v for k, v in self.gaussians.items() if k in keep}
        return replace(self, layout=layout, gaussians=gaussians)

    def score(self, features: np.ndarray) -> np.ndarray:
        """The chosen method's score of each row (higher: more unlike CIFAR-10); a one-part
        method computes only its part (the Live page's path)."""
        part = {"mahalanobis": PENULTIMATE}.get(self.method, self.method.removeprefix("layer:"))
        if part in self.gaussians:
            return mahalanobis(self.parts(features)[part], *self.gaussians[part])
        return self.all_scores(features)[self.method]


# --- choosing and measuring -------------------------------------------------------------------


def threshold_for(familiar_scores: np.ndarray, pass_rate: float = PASS_RATE) -> float:
    """The score below which ``pass_rate`` of the familiar images fall."""
    return float(np.quantile(np.asarray(familiar_scores, dtype=np.float64), pass_rate))


def auroc(familiar: np.ndarray, unfamiliar: np.ndarray) -> float:
    """Probability that an unfamiliar image scores above a familiar one (ties count half)."""
    from scipy.stats import rankdata

    both = np.concatenate([familiar, unfamiliar])
    ranks = rankdata(both)[len(familiar) :]
    n_f, n_u = len(familiar), len(unfamiliar)
    return float((ranks.sum() - n_u * (n_u + 1) / 2) / (n_f * n_u))


def detection(scores: np.ndarray, threshold: float) -> float:
    """Share of ``scores`` above ``threshold`` (flagged as unfamiliar)."""
    return float(np.mean(np.asarray(scores) > threshold)) if len(scores) else float("nan")


def measure(val: np.ndarray, unfamiliar: np.ndarray, test: np.ndarray | None = None) -> dict:
    """AUROC and detection at the validation threshold; the CIFAR-10 test flag rate."""
    t = threshold_for(val)
    out = {
        "threshold": t,
        "auroc": auroc(val, unfamiliar),
        "detection": detection(unfamiliar, t),
        "n_unfamiliar": int(len(unfamiliar)),
    }
    if test is not None:
        out["cifar_test_flagged"] = detection(test, t)
    return out


def choose_method(val: dict, choose: dict) -> tuple[str, dict]:
    """The method that flags most of the choosing set at the validation threshold (then AUROC).

    ``val`` and ``choose`` map method -> scores; returns (method, measurements per method).
    """
    measured = {m: measure(val[m], choose[m]) for m in val}
    best = max(measured, key=lambda m: (measured[m]["detection"], measured[m]["auroc"]))
    return best, measured


# --- serving ----------------------------------------------------------------------------------

SCORE_KEY = "_unfamiliar_score"  # in Predictor.predict_each's answers: the deciding model's score


@dataclass(frozen=True)
class Judge:
    """The model whose score decides the flag, its threshold and its measured test pass rate."""

    model: str
    scorer: Scorer  # restricted to the parts its method needs: the serving graph's output
    test_pass: float  # share of CIFAR-10 test images scoring below the threshold

    @classmethod
    def from_artifacts(cls, names: list[str], root=None) -> Judge | None:
        """The ``decider`` among ``names`` with readable ood files, or None."""
        summaries = {n: s for n in names if (s := summary(n, root))}
        name = decider(summaries)
        scorer = load_scorer(name, root) if name else None
        if scorer is None:
            return None
        flagged = summaries[name].get("test", {}).get("cifar_test_flagged", 1 - PASS_RATE)
        return cls(name, scorer.restricted(), 1.0 - float(flagged))

    def verdict(self, score: float) -> Verdict:
        return Verdict(self.model, float(score), self.scorer.threshold, self.test_pass)


@dataclass(frozen=True)
class Verdict:
    """One image's unfamiliarity, as the deciding model scored it."""

    model: str
    score: float
    threshold: float
    test_pass: float

    @property
    def unfamiliar(self) -> bool:
        return self.score > self.threshold

    def as_json(self) -> dict:
        return {
            "unfamiliar": self.unfamiliar,
            "unfamiliar_score": round(self.score, 4),
            "unfamiliar_threshold": round(self.threshold, 4),
            "unfamiliar_judged_by": self.model,
        }

    def message(self) -> str:
        """What the Live page says about an unfamiliar image."""
        return (
            f"This image is unlike the training images (score {self.score:.3g}; "
            f"{self.test_pass:.0%} of test images score below {self.threshold:.3g}): "
            "treat the answers as guesses."
        )


# --- artifact files ---------------------------------------------------------------------------


def write_stats(artifact_dir: str | os.PathLike, scorer: Scorer) -> Path:
    """Store a scorer's arrays as ``ood.npz`` (atomically); its method goes into ood.json."""
    path = Path(artifact_dir) / OOD_NPZ
    arrays = {"kernel": scorer.kernel, "bias": scorer.bias}
    for part, (means, precision) in scorer.gaussians.items():
        # A 2048-wide precision matrix is 16 MB as float32; float16 halves it and moves the
        # distances by about 1e-5 of their size (ResNet50's, measured).
        wide = precision.shape[0] > WIDE
        arrays[f"means:{part}"] = means
        arrays[f"precision:{part}"] = precision.astype(np.float16) if wide else precision
    arrays["layout_names"] = np.array([name for name, _ in scorer.layout])
    arrays["layout_widths"] = np.array([width for _, width in scorer.layout], dtype=np.int64)
    arrays["standardise_names"] = np.array(list(scorer.standardise), dtype=str)
    arrays["standardise"] = np.array(list(scorer.standardise.values()), np.float64).reshape(-1, 2)
    with atomic_file(path) as f:
        np.savez_compressed(f, **arrays)
    return path


def summary(name: str, root: str | os.PathLike | None = None) -> dict | None:
    """The artifact's ``ood.json``, or None without one (NumPy-free, for the pages)."""
    path = artifacts.Artifact(name, root).path / OOD_JSON
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "threshold" in data else None


def load_scorer(name: str, root: str | os.PathLike | None = None) -> Scorer | None:
    """The artifact's fitted ``Scorer``, or None if it has no (readable) ood files."""
    info = summary(name, root)
    if info is None:
        return None
    try:
        with np.load(artifacts.Artifact(name, root).path / OOD_NPZ, allow_pickle=False) as z:
            layout = tuple(
                (str(n), int(w)) for n, w in zip(z["layout_names"], z["layout_widths"], strict=True)
            )
            gaussians = {n: (z[f"means:{n}"], z[f"precision:{n}"]) for n, _ in layout}
            standardise = {
                str(k): (float(v[0]), float(v[1]))
                for k, v in zip(z["standardise_names"], z["standardise"], strict=True)
            }
            kernel, bias = z["kernel"], z["bias"]
    except (OSError, ValueError, KeyError, EOFError):
        return None
    scale = float(info.get("logit_scale", 1.0))
    threshold = float(info["threshold"])
    logits = info.get("features_from") != LOG_PROBABILITIES
    return Scorer(
        info["method"], threshold, layout, gaussians, kernel, bias, scale, standardise, logits
    )


def decider(summaries: dict[str, dict]) -> str | None:
    """The model whose flag is shown: the most unfamiliar choosing images flagged, then AUROC.

    Models scored on their log-probabilities (``LOG_PROBABILITIES``) never decide: the serving
    path reads the decider's features from its Keras layers."""
    usable = {
        n: s
        for n, s in summaries.items()
        if s and "choose" in s and s.get("features_from") != LOG_PROBABILITIES
    }
    if not usable:
        return None
    return max(
        usable, key=lambda n: (usable[n]["choose"]["detection"], usable[n]["choose"]["auroc"])
    )


# --- tables and figures (no TensorFlow) --------------------------------------------------------


def table_rows(
    summaries: dict[str, dict], titles: dict[str, str] | None = None, judge: str | None = None
) -> list[dict]:
    """One row per model with ood.json: its method and the numbers on the unfamiliar test set.

    ``judge``: the model whose score the flag uses (the ImageNet gate's, ``gate.json``), else
    the ``decider``."""
    judge = judge if judge in summaries else decider(summaries)
    rows = []
    for name, info in summaries.items():
        test = info["test"]
        rows.append(
            {
                "model": (titles or {}).get(name, name) + (" (decides)" if name == judge else ""),
                "method": info["method"],
                "AUROC": test["auroc"],
                "detected at 5% false alarms": test["detection"],
                "CIFAR-10 test flagged": test["cifar_test_flagged"],
                "threshold": info["threshold"],
            }
        )
    return rows


# --- backfill ---------------------------------------------------------------------------------


def _subset(x: np.ndarray, y: np.ndarray, limit: int | None, seed: int):
    if limit is None or limit >= len(y):
        return x, y
    rows = np.sort(np.random.default_rng(seed).choice(len(y), limit, replace=False))
    return x[rows], y[rows]


def _splits(name: str, data: str | None, root, fit_limit: int | None, eval_limit: int | None):
    """Seeded subsets of the training split (to fit), validation and test split (uint8)."""
    from core.analysis.calibration import validation_split_of
    from core.data.cifar10 import load_cifar10, split_validation

    config = artifacts.Artifact(name, root).config()
    seed = int(config.get("seed", 0))
    x_val, y_val = validation_split_of(name, data, root)  # checks the data's content hash
    dataset = load_cifar10(data, progress=False)
    split = split_validation(
        dataset.x_train, dataset.y_train, config.get("val_fraction") or 0.1, seed=seed
    )
    preds = artifacts.Artifact(name, root).predictions()
    x_test, y_test = dataset.x_test[: len(preds["y_true"])], preds["y_true"]
    if not np.array_equal(split.y_val, y_val) or not np.array_equal(dataset.y_test, y_test):
        raise artifacts.ArtifactError(f"{name}: trained on a subset of {data}; refit after it")
    x_fit, y_fit = split.x_fit, split.y_fit
    return {
        "fit": _subset(x_fit, np.asarray(y_fit), fit_limit, seed),
        "validation": _subset(x_val, y_val, eval_limit, seed + 1),
        "test": _subset(x_test, y_test, eval_limit, seed + 2),
    }


def fit(
    features: dict[str, np.ndarray], y_fit: np.ndarray, head: tuple, layout, logits: bool = True
) -> Scorer:
    """Class means and shared covariances of each part of ``features['fit']``, validation
    means and spreads; method "mahalanobis" and threshold 0 until ``choose``."""
    kernel, bias, scale = head
    widths = np.cumsum([w for _, w in layout])
    gaussians = {
        name: fit_gaussian(features["fit"][:, end - w : end], y_fit)
        for (name, w), end in zip(layout, widths, strict=True)
    }
    base = Scorer("mahalanobis", 0.0, tuple(layout), gaussians, kernel, bias, scale, logits=logits)
    val = base.all_scores(features["validation"])
    spread = {k: (float(v.mean()), float(v.std()) + 1e-12) for k, v in val.items() if k != "msp"}
    return replace(base, standardise=spread)


def choose(scorer: Scorer, features: dict[str, np.ndarray], sources: tuple[str, ...]) -> dict:
    """Choose the method on the choosing set; measure every method on the test sets."""
    scores = {
        k: scorer.all_scores(features[k]) for k in ("validation", "test", "choose", "unfamiliar")
    }
    method, on_choose = choose_method(scores["validation"], scores["choose"])
    on_test = {
        m: measure(scores["validation"][m], scores["unfamiliar"][m], scores["test"][m])
        for m in scores["validation"]
    }
    chosen = replace(scorer, method=method, threshold=threshold_for(scores["validation"][method]))
    flagged = scores["unfamiliar"][method] > chosen.threshold
    per_source = {
        src: float(flagged[np.array(sources) == src].mean()) for src in dict.fromkeys(sources)
    }
    return {"scorer": chosen, "choose": on_choose, "test": on_test, "per_source": per_source}


@functools.lru_cache(maxsize=2)
def _unfamiliar(split: str):
    """``core.analysis.unfamiliar.build(split)``, built once per process for every model."""
    from core.analysis import unfamiliar

    return unfamiliar.build(split)


def backfill(
    name: str,
    data: str | None = None,
    root: str | os.PathLike | None = None,
    fit_limit: int | None = FIT_LIMIT,
    eval_limit: int | None = None,
    test_features: dict | None = None,
) -> dict:
    """Fit, choose and measure ``name``'s unfamiliar-image score; write ood.json and ood.npz.

    A dict given as ``test_features`` receives the penultimate features of the test images
    (``"penultimate"``, all of them in test order when ``eval_limit`` is None): the map's
    input, so ``core.add_model`` runs the test set through the model once for both."""
    from core.analysis import unfamiliar

    started = time.time()
    art = artifacts.Artifact(name, root)
    model = art.load_model()
    features, dense, logit_scale, layout = _features_or_log_probabilities(model)
    splits = _splits(name, data, root, fit_limit, eval_limit)
    sets = {"choose": _unfamiliar("choose"), "unfamiliar": _unfamiliar("test")}
    feats = {k: extract(features, v[0]) for k, v in splits.items()}
    feats |= {k: extract(features, s.images) for k, s in sets.items()}
    if test_features is not None and eval_limit is None:
        test_features["penultimate"] = feats["test"][:, : layout[0][1]]
    has_logits = dense is not None
    fitted = fit(feats, splits["fit"][1], _head_weights(dense, logit_scale), layout, has_logits)
    done = choose(fitted, feats, sets["unfamiliar"].sources)
    scorer = done["scorer"]
    write_stats(art.path, scorer)
    limits = " ".join(
        f"--{flag} {value}"
        for flag, value in (("fit-limit", fit_limit), ("eval-limit", eval_limit))
        if value is not None
    )
    result = {
        "model": name,
        "method": scorer.method,
        "threshold": scorer.threshold,
        "pass_rate": PASS_RATE,
        "logit_scale": scorer.logit_scale,
        "features_from": PENULTIMATE if has_logits else LOG_PROBABILITIES,
        "features": [{"part": n, "width": w} for n, w in scorer.layout],
        "fitted_on": {
            "split": "training split (the images the model was fitted on)",
            "n": int(len(splits["fit"][1])),
            "note": f"a seeded subset of at most {fit_limit:,} images" if fit_limit else "all",
        },
        "n_validation": int(len(splits["validation"][1])),
        "n_cifar_test": int(len(splits["test"][1])),
        "choose": done["choose"][scorer.method],
        "choose_all": done["choose"],
        "test": done["test"][scorer.method],
        "test_all": done["test"],
        "per_source": done["per_source"],
        "unfamiliar_set": unfamiliar.describe(),
        "command": f"python -m core.ood {name}" + (f" {limits}" if limits else ""),
        "seconds": round(time.time() - started, 1),
    }
    write_json(art.path / OOD_JSON, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.ood",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("models", nargs="+", help="artifact names (e.g. custom vgg12)")
    parser.add_argument("--data", help="CIFAR-10 source (default: $CIFAR10_DATA)")
    parser.add_argument("--artifacts", help="artifacts folder (default: artifacts/)")
    parser.add_argument(
        "--fit-limit", type=int, default=FIT_LIMIT, help="training images to fit on (0: all)"
    )
    parser.add_argument(
        "--eval-limit", type=int, default=0, help="validation and test images (0: all)"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own log lines"
    )
    args = parser.parse_args(argv)

    def one(name: str) -> str:
        r = backfill(
            name, args.data, args.artifacts, args.fit_limit or None, args.eval_limit or None
        )
        test = r["test"]
        return (
            f"{name}: {r['method']}, threshold {r['threshold']:.4g}; unfamiliar test set: AUROC "
            f"{test['auroc']:.3f}, {test['detection']:.1%} flagged; CIFAR-10 test "
            f"{test['cifar_test_flagged']:.1%} flagged ({r['seconds']:.0f} s)"
        )

    return for_each_model(args.models, one)
