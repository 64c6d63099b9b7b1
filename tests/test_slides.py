"""The slide deck (core.reporting.slides, ``python -m core.report --pptx``): what the audience
sees."""

import datetime as dt
import io
import re
import zipfile

import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Emu

from core.models.registry import REGISTRY
from core.reporting import palette, report, slides
from core.store import artifacts
from tests.conftest import FAKE_MODELS

DAY = dt.date(2026, 12, 2)


def _build(root, day=DAY, n_examples=2) -> bytes:
    return slides.build_deck(root, n_examples=n_examples, n_boot=100, date=day)


@pytest.fixture(scope="module")
def deck_bytes(fake_root) -> bytes:
    return _build(fake_root)


@pytest.fixture(scope="module")
def deck(deck_bytes):
    return Presentation(io.BytesIO(deck_bytes))


def _texts(slide) -> str:
    """Every piece of text a viewer can read on the slide, tables included."""
    parts = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            parts.append(shape.text_frame.text)
        if shape.has_table:
            parts += [cell.text for row in shape.table.rows for cell in row.cells]
    return "\n".join(parts)


def _finding(slide) -> str:
    return next(s.text_frame.text for s in slide.shapes if s.name == "Finding")


def _is_picture(shape) -> bool:
    return shape.shape_type == MSO_SHAPE_TYPE.PICTURE


def _accuracy(name, root) -> float:
    return artifacts.Artifact(name, root).metrics()["accuracy"]


def test_deck_is_16_9_with_a_finding_notes_and_one_visual_per_slide(deck):
    assert Emu(deck.slide_width) * 9 == Emu(deck.slide_height) * 16
    assert len(deck.slides) >= 9
    for slide in list(deck.slides)[1:]:
        heading = slide.shapes.title.text
        assert heading and heading[0].isupper(), heading
        sentences = re.findall(r"[.!?](?:\s|$)", _finding(slide))
        assert 1 <= len(sentences) <= 2, (heading, _finding(slide))
        notes = slide.notes_slide.notes_text_frame.text
        assert "python -m core." in notes, f"no command in the notes of {heading!r}"
        visuals = [s for s in slide.shapes if s.has_chart or s.has_table or _is_picture(s)]
        assert visuals, f"no chart, table or image on {heading!r}"
    assert deck.slides[0].notes_slide.notes_text_frame.text.strip()


def test_every_model_accuracy_and_the_best_one_in_the_headline(deck, fake_root):
    text = "\n".join(_texts(s) for s in deck.slides)
    accuracy = {n: _accuracy(n, fake_root) for n in FAKE_MODELS}
    for name, value in accuracy.items():
        assert f"{value:.4f}" in text, name
    best = max(accuracy, key=accuracy.get)
    headline = deck.slides[1].shapes.title.text
    assert headline.startswith(f"{REGISTRY[best].title} is most accurate: {accuracy[best]:.3f}")
    assert "95% CI" in headline


def test_charts_are_native_and_each_model_keeps_its_colour(deck):
    charts = [s.chart for slide in deck.slides for s in slide.shapes if s.has_chart]
    assert len(charts) >= 5, "headline, lead, per-class F1, calibration, robustness"
    per_class = next(c for c in charts if len(list(c.plots[0].categories)) == 10)
    series = list(per_class.plots[0].series)
    assert [s.name for s in series] == [palette.short_label(n) for n in FAKE_MODELS]
    for plotted, name in zip(series, FAKE_MODELS, strict=True):
        assert str(plotted.format.fill.fore_color.rgb) == palette.colour(name).lstrip("#")


def test_grad_cam_and_mistakes_slides_show_images(deck):
    by_title = {s.shapes.title.text: s for s in deck.slides}
    cam = next(s for t, s in by_title.items() if t.startswith("Grad-CAM"))
    pictures = [s for s in cam.shapes if _is_picture(s)]
    assert len(pictures) == 2 * (1 + len(FAKE_MODELS)), "the image and each model's heatmap"
    assert "layer" in cam.notes_slide.notes_text_frame.text
    mistakes = next(s for t, s in by_title.items() if "surest mistake" in t)
    assert len([s for s in mistakes.shapes if _is_picture(s)]) == slides.MISTAKES_SHOWN


def test_same_artifacts_same_bytes_and_another_day_changes_only_the_date(deck_bytes, fake_root):
    assert _build(fake_root) == deck_bytes
    other = _build(fake_root, DAY + dt.timedelta(days=1))
    with zipfile.ZipFile(io.BytesIO(deck_bytes)) as a, zipfile.ZipFile(io.BytesIO(other)) as b:
        assert a.namelist() == b.namelist()
        changed = [n for n in a.namelist() if a.read(n) != b.read(n)]
    assert sorted(changed) == ["docProps/core.xml", "ppt/slides/slide1.xml"], "the date only"
    assert len(deck_bytes) <= 10 * 1024 * 1024


def test_cli_writes_the_deck(fake_root, tmp_path, capsys):
    out = tmp_path / "meeting" / "deck.pptx"
    args = ["--pptx", str(out), "--artifacts", str(fake_root), "--examples", "1"]
    assert report.main(args) == 0
    assert len(Presentation(str(out)).slides) >= 9
    assert [p.name for p in out.parent.iterdir()] == ["deck.pptx"]
    assert "deck.pptx" in capsys.readouterr().out


def test_shipped_models_each_show_their_accuracy():
    ready = [n for n in REGISTRY if artifacts.Artifact(n).status().ready]
    assert ready, "the repository ships trained models"
    deck = Presentation(io.BytesIO(slides.build_deck(n_examples=0, n_boot=20, date=DAY)))
    text = "\n".join(_texts(s) for s in deck.slides)
    for name in ready:
        assert f"{_accuracy(name, None):.4f}" in text, name
    assert len(deck.slides) >= 9


def test_with_no_trained_model_the_deck_says_so(tmp_path):
    deck = Presentation(io.BytesIO(slides.build_deck(tmp_path, date=DAY)))
    assert "no model is trained yet" in deck.slides[0].shapes.title.text
