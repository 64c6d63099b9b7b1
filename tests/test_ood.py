"""The unfamiliar-image warning: scores on synthetic features, the unfamiliar set, the flag that
``python -m core.predict --json`` and the Live page show."""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.analysis import ood, unfamiliar

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "artifacts"


def _clusters(n_per_class: int = 200, dim: int = 6, seed: int = 0):
    """Ten well-separated Gaussian classes in ``dim`` dimensions."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (10, dim))
    labels = np.repeat(np.arange(10), n_per_class)
    return centres[labels] + rng.normal(0, 1, (len(labels), dim)), labels, centres


def _scorer(features, labels, method="mahalanobis", threshold=0.0):
    dim = features.shape[1]
    layout = ((ood.PENULTIMATE, dim),)
    gaussians = {ood.PENULTIMATE: ood.fit_gaussian(features, labels)}
    kernel = np.eye(dim, 10, dtype=np.float32)
    return ood.Scorer(method, threshold, layout, gaussians, kernel, np.zeros(10, np.float32))


def test_a_point_far_from_every_class_scores_higher_than_the_classes_own_points():
    features, labels, centres = _clusters()
    scorer = _scorer(features, labels)
    own = scorer.score(features)
    far = scorer.score(np.full((1, features.shape[1]), 100.0))
    assert far[0] > own.max()
    # a class centre is as familiar as it gets: its distance is about zero
    assert scorer.score(centres[:1])[0] == pytest.approx(0.0, abs=0.1)


def test_the_threshold_lets_95_percent_of_familiar_images_pass():
    scores = np.random.default_rng(1).normal(size=2000)
    threshold = ood.threshold_for(scores)
    assert ood.detection(scores, threshold) == pytest.approx(0.05, abs=0.001)


def test_auroc_and_choice_of_method_on_known_separations():
    familiar = np.arange(100.0)
    assert ood.auroc(familiar, familiar + 1000) == 1.0
    assert ood.auroc(familiar, familiar) == pytest.approx(0.5)
    rng = np.random.default_rng(2)
    val = {"good": rng.normal(size=500), "useless": rng.normal(size=500)}
    choose = {"good": rng.normal(5, 1, 200), "useless": rng.normal(size=200)}
    method, measured = ood.choose_method(val, choose)
    assert method == "good"
    assert measured["good"]["detection"] > 0.9 > 0.2 > measured["useless"]["detection"]


def test_energy_and_msp_grow_as_the_classifier_loses_evidence():
    features, labels, _ = _clusters(dim=10)
    scorer = _scorer(features, labels)
    confident = np.zeros((1, 10))
    confident[0, 3] = 20.0
    flat = np.zeros((1, 10))
    for method in ("energy", "msp"):
        confident_score, flat_score = (scorer.all_scores(f)[method][0] for f in (confident, flat))
        assert flat_score > confident_score, method


def test_the_unfamiliar_set_is_seeded_and_its_splits_share_no_source(monkeypatch):
    monkeypatch.setattr(unfamiliar, "CROPS_PER_SCALE", 1)
    monkeypatch.setattr(unfamiliar, "RENDERS_PER_KIND", 2)
    first, again = unfamiliar.build("test"), unfamiliar.build("test")
    assert first.images.dtype == np.uint8 and first.images.shape[1:] == (32, 32, 3)
    assert np.array_equal(first.images, again.images) and first.sources == again.sources
    assert not np.array_equal(first.images, unfamiliar.build("test", seed=1).images)
    choose = unfamiliar.build("choose")
    assert not set(first.sources) & set(choose.sources)
    used = {s.split(":", 1)[1] for s in first.sources + choose.sources if s.startswith("photo:")}
    assert used and not used & set(unfamiliar.EXCLUDED)
    with pytest.raises(ValueError, match="a cat"):
        unfamiliar.photo("chelsea")


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_predict_json_flags_a_page_of_text_but_not_a_cifar_test_image(
    tmp_path, capsys, monkeypatch
):
    from core.serving import predict
    from core.serving.unfamiliar import GateRunner
    from core.store.samples import load_test_images

    # the own score alone, as without the ImageNet gate (tests/test_unfamiliar_gate.py)
    monkeypatch.setattr(GateRunner, "load", classmethod(lambda cls, root=None: None))

    judge = ood.decider({n: ood.summary(n, REAL) for n in ("custom", "vgg12", "vgg12_opt")})
    assert judge, "the shipped models carry their ood.json"
    cifar = tmp_path / "cifar.png"
    cifar.write_bytes(_png(load_test_images(REAL).images[0]))  # an airplane
    page = tmp_path / "page.png"
    page.write_bytes(_png(unfamiliar.photo("page")))
    assert predict.main(["--json", "--models", judge, str(cifar), str(page)]) == 0
    answers = {Path(r["file"]).name: r for r in json.loads(capsys.readouterr().out)}
    assert answers["cifar.png"]["unfamiliar"] is False
    assert answers["page.png"]["unfamiliar"] is True
    for answer in answers.values():
        assert answer["unfamiliar_judged_by"] == judge
        assert answer["unfamiliar_threshold"] == pytest.approx(
            ood.summary(judge, REAL)["threshold"], rel=1e-3
        )
        assert answer["predictions"][judge], "the answers stay"
    assert answers["page.png"]["unfamiliar_score"] > answers["cifar.png"]["unfamiliar_score"]


def _flag_everything(root: Path, name: str) -> None:
    """ood files for a model whose threshold every image is above."""
    from core.store import artifacts

    layout = ood.feature_layout(artifacts.Artifact(name, root).load_model())
    gaussians = {
        part: (np.zeros((10, w), np.float32), np.eye(w, dtype=np.float32)) for part, w in layout
    }
    width = layout[0][1]
    kernel, bias = np.zeros((width, 10), np.float32), np.zeros(10, np.float32)
    ood.write_stats(root / name, ood.Scorer("mahalanobis", -1.0, layout, gaussians, kernel, bias))
    measured = {"detection": 1.0, "auroc": 1.0, "cifar_test_flagged": 0.05}
    summary = {"method": "mahalanobis", "threshold": -1.0, "choose": measured, "test": measured}
    (root / name / ood.OOD_JSON).write_text(json.dumps(summary))


def test_live_page_warns_about_an_unfamiliar_image_and_keeps_its_answers(
    fake_root, tmp_path, monkeypatch
):
    from tests.conftest import FAKE_MODELS
    from tests.live_answers import answer_rows
    from tests.test_dashboard import _app, _ok

    root = tmp_path / "artifacts"
    shutil.copytree(fake_root, root)
    _flag_everything(root, "custom")
    at = _app("pages/live.py", root, monkeypatch)
    noise = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    at.file_uploader[0].set_value([("noise.png", _png(noise), "image/png")]).run()
    _ok(at)
    # shown as an error, above the answers (ui.unfamiliar.flag_banner)
    warnings = [w.value for w in at.error if "unlike the training images" in w.value]
    assert len(warnings) == 1
    assert "95% of test images score below -1" in warnings[0]
    assert warnings[0].endswith("treat the answers as guesses.")
    assert len(answer_rows(at)) == 3 * len(FAKE_MODELS), "the answers stay visible"


def test_report_section_lists_each_models_detection_on_the_unfamiliar_test_set():
    from core.reporting.report import _title, _unfamiliar_section

    names = ["custom", "vgg12", "vgg12_opt"]
    section = _unfamiliar_section(names, REAL)
    assert "<h2>Does it notice an image unlike CIFAR-10?</h2>" in section
    for name in names:
        test = ood.summary(name, REAL)["test"]
        assert _title(name) in section
        assert f"{test['auroc']:.3f}" in section and f"{test['detection']:.1%}" in section
    assert "(decides)" in section and "plotly" in section.lower()
