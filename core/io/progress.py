"""The training progress log, ``progress.jsonl``, and the one place that reads it.

``core.training.train.ProgressLog`` appends a JSON object per line to ``artifacts/.work/MODEL/``:
``{"event": "batch", "epoch", "batch", "steps", "epochs", <running metrics>, "time", "wall_s"}``
every few batches and ``{"event": "epoch", "epoch", "epochs", <metrics>, "time", "wall_s"}`` at
the end of each epoch; ``--resume`` appends to the same file. ``python -m core.add_model`` logs
its stages as batches of one epoch (``{"event": "batch", "epoch": 0, "epochs": 1, "batch",
"steps", "stage"}``), so the same readers follow an import. Readers:

    read_records(path) -> list[dict]      every record (a half-written last line is skipped)
    read_history(path) -> (history, wall)  per-epoch metrics, for the artifact's history.json
    fraction(records) -> float            share of the run done, for a progress bar
    curve_records(model, records)         long rows for ``core.reporting.charts.training_curves``

It imports neither TensorFlow nor Streamlit: ``core.training.train`` and the dashboard (through
``core.training.jobs``) both use it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PROGRESS_FILE = "progress.jsonl"
_NOT_METRICS = {"event", "epoch", "epochs", "time", "wall_s"}


def append(path: str | os.PathLike, record: dict) -> None:
    """Add one record as a line (a reader skips a line caught half-written)."""
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def read_records(path: str | os.PathLike) -> list[dict]:
    """The log's records in order; [] if there is no log. Lines that are not a JSON object
    (the last one while the writer is mid-line) are skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_history(path: str | os.PathLike) -> tuple[dict[str, list[float]], float]:
    """Per-epoch metrics from a progress log, and the wall time of its last epoch.

    An epoch logged twice (a resumed run repeats the one it was killed in) counts once, with
    its latest values.
    """
    epochs = {r["epoch"]: r for r in read_records(path) if r.get("event") == "epoch"}
    history: dict[str, list[float]] = {}
    for _, record in sorted(epochs.items()):
        for key, value in record.items():
            if key not in _NOT_METRICS:
                history.setdefault(key, []).append(float(value))
    wall = max((r.get("wall_s", 0.0) for r in epochs.values()), default=0.0)
    return history, float(wall)


def fraction(records: list[dict]) -> float:
    """Share of the run done, from the last record (0 when there is none yet)."""
    if not records:
        return 0.0
    last = records[-1]
    epochs = max(1, int(last.get("epochs") or 1))
    if last.get("event") == "epoch":
        done = last["epoch"] + 1
    else:
        steps = max(1, last.get("steps") or 1)
        done = last.get("epoch", 0) + (last.get("batch", 0) + 1) / steps
    return min(1.0, done / epochs)


def curve_records(model: str, records: list[dict]) -> list[dict]:
    """Records -> long rows ``{model, epoch, metric, split, value}`` for the training curves:
    end-of-epoch points, and the running training metrics every few batches (at fractional
    epochs, split "train (running)")."""
    rows = []
    for r in records:
        if r.get("event") == "batch":
            x, keys = r["epoch"] + (r["batch"] + 1) / max(1, r.get("steps") or 1), ("",)
            split = "train (running)"
        elif r.get("event") == "epoch":
            x, keys, split = r["epoch"] + 1, ("", "val_"), None
        else:
            continue
        for prefix in keys:
            for metric in ("loss", "accuracy"):
                if prefix + metric in r:
                    rows.append(
                        {
                            "model": model,
                            "epoch": x,
                            "metric": metric,
                            "split": split or ("validation" if prefix else "train"),
                            "value": r[prefix + metric],
                        }
                    )
    return rows
