import json

from core.io import progress


def _log(path, records, tail=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return path


BATCH = {"event": "batch", "epoch": 1, "batch": 4, "steps": 10, "epochs": 4, "loss": 1.5}


def _epoch(epoch, loss, wall):
    return {
        "event": "epoch",
        "epoch": epoch,
        "epochs": 4,
        "loss": loss,
        "val_loss": loss + 0.1,
        "time": 1.0,
        "wall_s": wall,
    }


def test_a_half_written_last_line_and_a_missing_log_are_no_error(tmp_path):
    path = _log(tmp_path / progress.PROGRESS_FILE, [BATCH], tail='{"event": "ep')
    assert progress.read_records(path) == [BATCH]
    assert progress.read_records(tmp_path / "none.jsonl") == []
    assert progress.read_history(tmp_path / "none.jsonl") == ({}, 0.0)


def test_history_counts_a_resumed_epoch_once_with_its_latest_values(tmp_path):
    records = [_epoch(0, 2.0, 10.0), _epoch(1, 1.8, 20.0), _epoch(1, 1.7, 25.0), BATCH]
    history, wall = progress.read_history(_log(tmp_path / "p.jsonl", records, tail="{half"))
    assert history == {"loss": [2.0, 1.7], "val_loss": [2.1, 1.8]}
    assert wall == 25.0


def test_fraction_follows_batches_and_epochs():
    assert progress.fraction([]) == 0.0
    assert progress.fraction([BATCH]) == (1 + 5 / 10) / 4
    assert progress.fraction([_epoch(3, 1.0, 1.0)]) == 1.0


def test_curve_records_put_running_batches_at_fractional_epochs():
    rows = progress.curve_records("custom", [BATCH, _epoch(1, 1.2, 1.0)])
    assert rows[0] == {
        "model": "custom",
        "epoch": 1.5,
        "metric": "loss",
        "split": "train (running)",
        "value": 1.5,
    }
    assert [(r["epoch"], r["split"]) for r in rows[1:]] == [(2, "train"), (2, "validation")]


def test_train_reads_history_through_core_progress():
    from core.training import train

    assert train.read_history is progress.read_history
