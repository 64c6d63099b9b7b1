"""The unfamiliar-image flag of issue 38: the ImageNet gate (core.analysis.imagenet_gate) fires on
drawn shapes and text made here, not on CIFAR-10 test images, and ``python -m core.predict``
carries it per image, before the answers."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from core.analysis import imagenet_gate
from core.data.cifar10 import CACHE_ENV
from core.serving import fast_start
from core.serving.unfamiliar import HEADLINE, Flag, GateRunner
from tests.page_tables import table_with

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "artifacts"


def _shapes(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (300, 300), tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x, y = (int(v) for v in rng.integers(0, 220, 2))
        box = [x, y, x + int(rng.integers(30, 120)), y + int(rng.integers(30, 120))]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return image


def _text(lines: list[str]) -> Image.Image:
    image = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=28)
    for i, line in enumerate(lines):
        draw.text((10, 10 + 40 * i), line, fill="black", font=font)
    return image


TEXT = ["Quarterly results", "Revenue grew 12%", "in the third quarter,", "ahead of plan."]


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def runner() -> GateRunner:
    gate = GateRunner.load(REAL)
    assert gate is not None, "artifacts/unfamiliar/gate.json ships with the repository"
    return gate


def test_the_gate_flags_drawn_shapes_and_text_but_not_cifar_test_images(runner):
    from core.store.samples import load_test_images

    drawn = [_shapes(0), _shapes(1), _text(TEXT), _text(["hello world"] * 6)]
    cifar = [Image.fromarray(x) for x in load_test_images(REAL).images[:40]]
    likeness = runner.likeness(np.stack([runner.gate_input(im) for im in drawn + cifar]))
    flags = [runner.flag(m, None).unfamiliar for m in likeness]
    assert flags[: len(drawn)] == [True] * len(drawn), likeness[: len(drawn)]
    # about 2-4 % of CIFAR-10 images fall below the gate's threshold (gate.json)
    assert sum(flags[len(drawn) :]) <= 4, likeness[len(drawn) :]
    assert likeness[len(drawn) :].mean() > 3 * likeness[: len(drawn)].mean()


def test_predict_carries_the_flag_per_image_in_json_and_before_the_answers_in_text(
    runner, tmp_path, capsys, monkeypatch
):
    from core.serving import predict
    from core.store.samples import load_test_images

    # the gate built once for the module (its network takes seconds to build)
    monkeypatch.setattr(GateRunner, "load", classmethod(lambda cls, root=None: runner))

    page, cifar = tmp_path / "page.png", tmp_path / "cifar.png"
    page.write_bytes(_png(_text(TEXT)))
    samples = load_test_images(REAL)
    horse = samples.images[list(samples.labels).index(7)]  # the class least often flagged
    cifar.write_bytes(_png(Image.fromarray(horse)))
    assert predict.main(["--json", "--models", "custom", str(page), str(cifar)]) == 0
    answers = {Path(r["file"]).name: r for r in json.loads(capsys.readouterr().out)}
    assert answers["page.png"]["unfamiliar"] is True
    assert answers["cifar.png"]["unfamiliar"] is False
    for answer in answers.values():
        assert 0 <= answer["cifar10_like_probability"] <= 1
        assert answer["predictions"]["custom"], "the answers stay, as guesses"
    assert (
        answers["page.png"]["cifar10_like_probability"]
        < answers["cifar.png"]["cifar10_like_probability"]
    )

    assert predict.main(["--models", "custom", str(page)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert HEADLINE in lines[1], "the flag comes before the model's answer"
    assert lines[2].strip().startswith("custom")


def test_the_rule_ors_the_gate_with_the_own_score_of_the_model_it_was_chosen_with():
    from core.analysis.ood import Verdict

    gate = imagenet_gate.Gate("lite0", 224, ("member",), "max", (), 0.2, 50.0, "vgg12", {})
    assert gate.flags(np.array([0.1, 0.5, 0.5]), np.array([0.0, 0.0, 60.0])).tolist() == [
        True,
        False,
        True,
    ]
    own = Verdict("vgg12", 60.0, 40.0, 0.95)
    flag = Flag(0.5, 0.2, own, 50.0)
    assert flag.unfamiliar and not flag.by_gate and flag.by_own
    assert flag.message().startswith(HEADLINE)
    assert flag.as_json() | {"unfamiliar": True} == flag.as_json()
    assert not Flag(0.5, 0.2, None, None).unfamiliar


def test_trust_page_and_report_say_how_the_flag_was_chosen_and_what_it_costs(monkeypatch):
    from core.reporting.report import _unfamiliar_section
    from tests.test_dashboard import _app, _ok

    info = imagenet_gate.summary(REAL)
    at = _app("pages/trust.py", REAL, monkeypatch)
    _ok(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["CIFAR-10 test flagged (false alarms)"] == f"{info['test']['flagged']:.1%}"
    assert metrics["Choosing set flagged"] == f"{info['choosing_set']['flagged']:.1%}"
    shown = "\n".join(str(m.value) for m in at.markdown)
    assert "never on the test set" in shown
    from core.store.catalog import title

    deciding = [m for m in table_with(at, "model", "AUROC")["model"] if m.endswith("(decides)")]
    assert deciding == [f"{title(info['rule']['present_model'])} (decides)"]
    section = _unfamiliar_section(["vgg12"], REAL)
    assert "before any answer" in section
    assert f"{info['test']['flagged']:.1%} of CIFAR-10 test images flagged" in section


def test_the_gates_fast_start_copy_flags_as_its_network_and_a_damaged_one_is_not_used(
    runner, tmp_path, monkeypatch
):
    from core.store.samples import load_test_images

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(fast_start.FAST_START_ENV, "1")
    rule = runner.gate
    path, made = fast_start.build_gate(rule.model, rule.size)
    assert made and path.is_file()
    assert fast_start.build_gate(rule.model, rule.size) == (path, False)

    by_copy, by_graph = GateRunner.load(REAL), runner  # the fixture's: copies are off in tests
    assert by_copy.runs_copy and not by_graph.runs_copy
    rng = np.random.default_rng(3)
    photos = [
        *load_test_images().images[:6],  # CIFAR-10: familiar
        (rng.random((300, 400, 3)) * 255).astype(np.uint8),  # noise: unfamiliar
        np.full((240, 320, 3), (20, 90, 200), np.uint8),  # one flat colour
    ]
    inputs = np.stack([by_copy.gate_input(photo) for photo in photos])
    np.testing.assert_allclose(by_copy.likeness(inputs), by_graph.likeness(inputs), atol=1e-5)

    path.write_bytes(b"not a model")  # damaged: GateRunner.load takes the traced network
    assert fast_start.load_gate(rule.model, rule.size) is None
