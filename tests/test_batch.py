"""Many photos at once: the labelled-set evaluation (``python -m core.evaluate --images``), the
predict command's CSV, hostile zips and images, and the Live page's batch table and its CSV."""

import contextlib
import csv
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.cifar10 import CLASS_NAMES
from core.data.images import MAX_BYTES
from core.serving import predict
from core.store.samples import load_test_images
from core.training import evaluate
from tests.conftest import FAKE_MODELS
from tests.test_dashboard import _app

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "artifacts"
# Test rows of the shipped images (in test order, as the stored predictions): 3 per class. The
# shipped images are the JPEG copy's test/<class>/NNNN.jpg decoded, row = class * 1000 + NNNN.
ROWS = [c * 1000 + j for c in range(10) for j in (0, 7, 21)]


def _png(array_or_colour, size=(40, 30)) -> bytes:
    image = (
        Image.fromarray(array_or_colour)
        if isinstance(array_or_colour, np.ndarray)
        else Image.new("RGB", size, array_or_colour)
    )
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _pixel_bomb() -> bytes:
    """A valid PNG header for a 100,000 x 100,000 image: 10^10 pixels from a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _run(main, argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def labelled_zip(tmp_path_factory) -> Path:
    """CIFAR-10 test images in class folders inside one top folder, zipped, with three files
    that must be skipped: a corrupt JPEG, a pixel bomb and a zip bomb (21 MiB of zeros)."""
    samples = load_test_images(REAL)
    path = tmp_path_factory.mktemp("labelled") / "my photos.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for row in ROWS:
            z.writestr(
                f"mine/{CLASS_NAMES[samples.labels[row]]}/{row:05d}.png", _png(samples.images[row])
            )
        z.writestr("mine/cat/corrupt.jpg", b"\xff\xd8\xff\xe0 this is not a JPEG")
        z.writestr("mine/dog/bomb.png", _pixel_bomb())
        z.writestr("mine/frog/zipbomb.bmp", bytes(MAX_BYTES + 2**20))
        z.writestr("mine/.DS_Store", b"ignored")
    return path


@pytest.fixture(scope="module")
def evaluated(labelled_zip) -> tuple[int, dict, str]:
    code, out, err = _run(
        evaluate.main, ["--images", str(labelled_zip), "--models", "custom", "--json"]
    )
    return code, json.loads(out) if out else {}, err


def test_labelled_cifar_images_score_what_the_stored_predictions_say(evaluated):
    code, result, err = evaluated
    assert code == 0, err
    stored = np.load(REAL / "custom" / "test_predictions.npz")
    y_true, y_pred = stored["y_true"][ROWS], stored["probs"][ROWS].argmax(axis=1)
    assert list(y_true) == [r // 1000 for r in ROWS]  # rows map to the classes as foldered
    assert result["images"] == len(ROWS)
    custom = result["models"]["custom"]
    assert custom["accuracy"] == pytest.approx(np.mean(y_true == y_pred), abs=1e-12)
    low, high = custom["accuracy_95ci"]
    assert low <= custom["accuracy"] <= high
    assert custom["cifar10_test_accuracy"] == pytest.approx(
        json.loads((REAL / "custom" / "metrics.json").read_text())["accuracy"]
    )
    from sklearn.metrics import confusion_matrix

    assert custom["confusion_matrix"] == confusion_matrix(y_true, y_pred, labels=range(10)).tolist()
    wrong = int(np.sum(y_true != y_pred))
    assert len(result["worst"]) == min(wrong, 12)
    assert all(w["answers"]["custom"]["class"] != w["label"] for w in result["worst"])


def test_corrupt_images_and_bombs_are_skipped_and_counted(evaluated):
    code, result, err = evaluated
    assert code == 0
    assert result["skipped"] == 3
    reasons = {Path(s["file"]).name: s["reason"] for s in result["skipped_files"]}
    assert set(reasons) == {"corrupt.jpg", "bomb.png", "zipbomb.bmp"}
    assert (
        "header is corrupt" in reasons["corrupt.jpg"]
        or "not a recognised" in reasons["corrupt.jpg"]
    )
    assert "pixel limit" in reasons["bomb.png"]
    assert "over the 20 MiB limit" in reasons["zipbomb.bmp"]
    assert sorted(err.strip().splitlines()) == sorted(f"skipped: {r}" for r in reasons.values())


def test_a_zip_with_a_folder_that_is_not_a_class_gets_one_line_listing_the_classes(tmp_path):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("cat/a.png", _png((200, 10, 10)))
        z.writestr("kitty/b.png", _png((10, 200, 10)))
    code, out, err = _run(evaluate.main, ["--images", str(path), "--json"])
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert "'kitty'" in err and ", ".join(CLASS_NAMES) in err


def test_predict_csv_has_a_row_per_file_and_says_why_one_is_unreadable(tmp_path):
    folder = tmp_path / "shots"
    (folder / "more").mkdir(parents=True)
    (folder / "red.png").write_bytes(_png((200, 30, 30)))
    (folder / "more" / "blue.png").write_bytes(_png((30, 30, 200)))
    (folder / "broken.jpg").write_bytes(b"not an image")
    code, out, err = _run(predict.main, [str(folder), "--models", "custom", "--csv"])
    assert code == 1  # one file failed
    rows = list(csv.DictReader(io.StringIO(out)))
    # A folder's own files (sorted), then its sub-folders'.
    assert [Path(r["file"]).name for r in rows] == ["broken.jpg", "red.png", "blue.png"]
    assert rows[0]["problem"].endswith("broken.jpg: not a recognised image file")
    assert rows[0]["custom_class"] == ""
    for row in rows[1:]:  # answered
        assert row["problem"] == "" and row["custom_class"] in CLASS_NAMES
        assert 0.1 <= float(row["custom_confidence"]) <= 1
    assert err.strip() == f"error: {rows[0]['problem']}"


def test_live_batch_table_and_its_csv_have_one_row_per_uploaded_image(fake_root, monkeypatch):
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    stores = []
    init = MemoryMediaFileStorage.__init__

    def keep(self, *args, **kwargs):  # remember the app run's media storage, to read the CSV
        init(self, *args, **kwargs)
        stores.append(self)

    monkeypatch.setattr(MemoryMediaFileStorage, "__init__", keep)
    at = _app("pages/live.py", fake_root, monkeypatch)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(3):
            z.writestr(f"trip/{i}.png", _png((40 * i, 90, 10)))
    files = [(f"{i}.png", _png((10, 25 * i, 60)), "image/png") for i in range(7)]
    files += [("trip.zip", archive.getvalue(), "application/zip")]
    files += [("broken.jpg", b"not an image", "image/jpeg")]
    at.file_uploader[0].set_value(files).run(timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    names = [f"{i}.png" for i in range(7)] + [f"trip.zip/trip/{i}.png" for i in range(3)]
    names.append("broken.jpg")
    table = at.dataframe[0].value
    assert table["file"].tolist() == names
    assert table["image"].str.startswith("data:image/png;base64,").sum() == 10
    assert [s.value for s in at.subheader][0] == "All 11 images"
    # Cards (and heatmaps) only for the first few images.
    assert [s.value for s in at.subheader][1:] == names[:6]
    url = at.get("download_button")[0].proto.url
    data = stores[-1].get_file(url.rsplit("/", 1)[1]).content.decode()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert [r["file"] for r in rows] == names
    assert rows[-1]["problem"] == "broken.jpg: not a recognised image file"
    for model in FAKE_MODELS:
        assert all(r[f"{model}_class"] in CLASS_NAMES for r in rows[:-1])
        shown = table[f"{model}_confidence"].tolist()[:-1]
        assert [float(r[f"{model}_confidence"]) for r in rows[:-1]] == pytest.approx(shown)


def test_comparison_page_evaluates_a_labelled_zip_beside_cifar10(fake_root, monkeypatch):
    samples = load_test_images(fake_root)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for row in ROWS:
            z.writestr(
                f"{CLASS_NAMES[samples.labels[row]]}/{row:05d}.png", _png(samples.images[row])
            )
        z.writestr("cat/corrupt.jpg", b"not an image")
    at = _app("pages/comparison.py", fake_root, monkeypatch)
    uploader = next(u for u in at.file_uploader if u.key == "own_zip")
    uploader.set_value([("mine.zip", archive.getvalue(), "application/zip")]).run(timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    assert f"{len(ROWS)} photos evaluated, 1 skipped" in "\n".join(c.value for c in at.caption)
    shift = next(d.value for d in at.dataframe if "accuracy change" in d.value.columns)
    wrong = np.zeros(len(ROWS), bool)
    for name, row in zip(FAKE_MODELS, shift.itertuples(index=False), strict=True):
        stored = np.load(fake_root / name / "test_predictions.npz")
        right = stored["probs"][ROWS].argmax(axis=1) == stored["y_true"][ROWS]
        assert row[1] == pytest.approx(right.mean(), abs=1e-12)  # your photos: accuracy
        wrong |= ~right
    pairs = next(d.value for d in at.dataframe if "only A right" in d.value.columns)
    assert len(pairs) == 1  # the two fake models
    titles = [f.proto.spec for f in at.get("plotly_chart")]
    assert any("Your photos:" in t for t in titles) and any("CIFAR-10 test:" in t for t in titles)
    captions = [c for img in at.get("image") for c in img.captions if "models wrong" in c]
    assert len(captions) == min(12, int(wrong.sum()))  # the hardest photos, described

    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("cars/a.png", _png((1, 2, 3)))
    uploader = next(u for u in at.file_uploader if u.key == "own_zip")
    uploader.set_value([("bad.zip", bad.getvalue(), "application/zip")]).run(timeout=60)
    assert [e.value for e in at.error] == [
        "bad.zip: folder(s) 'cars' are not class names; name each folder after one of the ten "
        f"classes: {', '.join(CLASS_NAMES)}"
    ]


def test_a_batch_past_the_cap_keeps_every_name_and_says_why_the_rest_wait(tmp_path):
    from core.data.uploads import MAX_BATCH, capped, from_uploads, gather

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(MAX_BATCH):
            z.writestr(f"a/{i:03d}.png", b"png?")
        z.writestr("__MACOSX/a/._000.png", b"resource fork")
        z.writestr("a/notes.txt", b"hello")
    entries = capped(from_uploads([("one.png", b"x"), ("many.zip", archive.getvalue())]))
    assert len(entries) == MAX_BATCH + 2  # the resource fork is left out, the .txt is listed
    assert entries[-1].name == "many.zip/a/notes.txt"
    assert [e.error is None for e in entries] == [True] * MAX_BATCH + [False] * 2
    assert entries[-2].error == (
        f"many.zip/a/{MAX_BATCH - 1:03d}.png: not classified, at most {MAX_BATCH} images at a "
        f"time (this batch has {MAX_BATCH + 2})"
    )
    assert from_uploads([("bad.zip", b"PK not really")])[0].error == (
        "bad.zip: not a readable .zip archive"
    )
    assert gather([str(tmp_path / "*.png")])[0].error.endswith("*.png: no file matches")
