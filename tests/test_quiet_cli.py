"""The command lines print only their own output: no TensorFlow start-up lines on stderr, no
retracing warnings, and answers in one column whatever the models' names."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from core.models.registry import REGISTRY
from core.store import artifacts


def _predict(folder, *flags: str, models: str | None = "custom") -> subprocess.CompletedProcess:
    """``python -m core.predict`` on a small PNG with ``models`` (None: every shipped one),
    TF_CPP_* unset as for a user."""
    photo = folder / "photo.png"
    Image.fromarray(np.full((40, 50, 3), 120, np.uint8)).save(photo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    chosen = ["--models", models] if models else []
    return subprocess.run(
        [sys.executable, "-m", "core.predict", str(photo), *chosen, *flags],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_verbose_lets_tensorflow_speak(tmp_path):
    result = _predict(tmp_path, "--verbose")
    assert result.returncode == 0 and result.stderr != ""


SHIPPED = [name for name in REGISTRY if artifacts.Artifact(name).status().ready]


@pytest.fixture(scope="module")
def all_models(tmp_path_factory):
    """The text answer of every shipped model (about 25 s on two cores): each model's graph is
    traced once, and TensorFlow used to read the six traces as one function retraced."""
    if len(SHIPPED) < 2:
        pytest.skip("fewer than two shipped models")
    return _predict(tmp_path_factory.mktemp("all_models"), models=None)


@pytest.mark.slow
def test_predict_with_every_shipped_model_prints_nothing_on_stderr(all_models):
    assert all_models.returncode == 0, all_models.stderr[-2000:]
    assert all_models.stderr == ""


@pytest.mark.slow
def test_every_models_answer_starts_in_the_same_column(all_models):
    rows = [
        re.match(r"  (\S+) +(?=\S)", line)
        for line in all_models.stdout.splitlines()
        if line.startswith("  ") and not line.startswith("  warning:")
    ]
    assert sorted(row.group(1) for row in rows) == sorted(SHIPPED)
    assert {row.end() for row in rows} == {max(map(len, SHIPPED)) + 3}
