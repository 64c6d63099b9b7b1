"""Many images answered at once: in chunks with progress, then one table row per image.

    classify_batch(predictor, entries, k=3, progress=fn) -> list[Classified]
    table_rows(results, models) -> list[dict]    # one row per image, unreadable ones included
    to_csv(rows) -> str                           # the same rows as CSV, header first
    evaluate_labelled(predictor, entries) -> (metrics, results)   # a labelled set, every model

The Live page's batch and ``python -m core.predict --csv`` use the same rows, so the table on
screen, its download and the command line's CSV have the same columns.
"""

from __future__ import annotations

import base64
import csv
import io
import sys
from collections.abc import Callable, Iterable

import numpy as np
from PIL import Image

from core.analysis import own_photos
from core.data.cifar10 import CLASS_NAMES
from core.data.images import ImageRejected
from core.data.uploads import Entry
from core.serving.classify import Classified, classify_files
from core.serving.predictor import Predictor, SharedPredictor

# Images per predictor call: small enough for a progress bar that moves every few seconds
# (ResNet50 averages six 160 px views) and for the shared worker's 30 s deadline.
CHUNK: int = 8


def unfamiliar_flag(res: Classified) -> bool | None:
    """Whether ``res`` is flagged as unlike the ten classes (None: not judged).

    The one place the batch table, its CSV and the labelled-set evaluation read the flag, so a
    better unfamiliar-image method replaces it here."""
    return None if res.unfamiliar is None else bool(res.unfamiliar.unfamiliar)


def classify_batch(
    predictor: Predictor | SharedPredictor,
    entries: Iterable[Entry],
    k: int = 3,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = CHUNK,
    models: Iterable[str] | None = None,
) -> list[Classified]:
    """Every entry's answers, in order; an entry that cannot be read or decoded gets its reason.

    ``progress(done, total)`` is called after each chunk of ``chunk`` images; ``models``: only
    these of the predictor's models answer (a page's picker)."""
    entries = list(entries)
    results: list[Classified] = []
    for start in range(0, len(entries), chunk):
        files, failed = [], {}
        for i, entry in enumerate(entries[start : start + chunk]):
            try:
                files.append((entry.name, entry.read()))
            except ImageRejected as exc:
                failed[i] = Classified(entry.name, None, str(exc))
        answered = iter(classify_files(predictor, files, k=k, models=models))
        results += [failed.get(i) or next(answered) for i in range(len(files) + len(failed))]
        if progress is not None:
            progress(len(results), len(entries))
    return results


def table_rows(
    results: Iterable[Classified], models: Iterable[str], labels: Iterable[str] | None = None
) -> list[dict]:
    """One row per image: file, problem (empty when answered), the unfamiliar flag, whether the
    models agree, then each model's class and confidence. ``labels`` adds a true-class column."""
    models = list(models)
    labels = None if labels is None else list(labels)
    rows = []
    for i, res in enumerate(results):
        label = {} if labels is None else {"label": labels[i]}
        row = {"file": res.name, **label, "problem": res.error or ""}
        flag = None if res.error else unfamiliar_flag(res)
        row["unfamiliar"] = "" if flag is None else ("yes" if flag else "no")
        row["agree"] = "" if res.agree is None else ("yes" if res.agree else "no")
        for model in models:
            top = res.top.get(model)
            row[f"{model}_class"] = top[0][0] if top else ""
            row[f"{model}_confidence"] = round(top[0][1], 4) if top else None
            if model in res.failed:
                row["problem"] = "; ".join(
                    p for p in (row["problem"], f"{model}: {res.failed[model]}") if p
                )
        rows.append(row)
    return rows


def to_csv(rows: list[dict]) -> str:
    """The rows as CSV text: a header, then one line per row (empty cells for missing values)."""
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()


def thumbnail(image: np.ndarray | None, scale: int = 2) -> str | None:
    """A 32x32 model input as a PNG data URI (pixels kept sharp), for a table's image column."""
    if image is None:
        return None
    arr = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    picture = Image.fromarray(arr).resize((32 * scale, 32 * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def evaluate_labelled(
    predictor: Predictor | SharedPredictor,
    entries: list[Entry],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict, list[Classified]]:
    """Every model on a labelled set (``core.data.uploads.labelled``): ``core.analysis.own_photos``'
    metrics of the images every model answered, plus ``skipped`` (how many files were not
    evaluated) and ``skipped_files`` (each with its reason). A model that failed on any image
    is left out (``failed_models``) rather than compared on fewer images than the others."""
    results = classify_batch(predictor, entries, k=1, progress=progress)
    decoded = [r for r in results if not r.error]
    failed = {m: why for r in decoded for m, why in r.failed.items()}
    models = [m for m in predictor.models if m not in failed]
    rows = [i for i, r in enumerate(results) if not r.error]
    skipped = [{"file": r.name, "reason": r.error} for r in results if r.error]
    y_true = np.array([CLASS_NAMES.index(entries[i].label) for i in rows], dtype=np.int64)
    probs = {m: np.stack([results[i].probs[m] for i in rows]) for m in models} if rows else {}
    if rows and models:
        files = [results[i].name for i in rows]
        flags = [unfamiliar_flag(results[i]) for i in rows]
        evaluated = own_photos.evaluate(y_true, probs, files, flags)
        evaluated["unfamiliar"] = sum(bool(f) for f in flags)
        for worst in evaluated["worst"]:  # rows of ``results``, where the images are
            worst["row"] = rows[worst["row"]]
    else:
        evaluated = {"images": 0, "models": {}, "mcnemar": [], "worst": [], "unfamiliar": 0}
    out = {
        "images": evaluated.pop("images"),
        "skipped": len(skipped),
        **evaluated,
        "skipped_files": skipped,
        **({"failed_models": failed} if failed else {}),
    }
    return out, results


def terminal_progress(total: int) -> Callable[[int, int], None] | None:
    """A progress bar on a terminal's stderr for more than one chunk of images, else None."""
    if total <= CHUNK or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="img", file=sys.stderr, leave=False)

    def update(done: int, total: int) -> None:
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update
