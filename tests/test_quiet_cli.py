"""The command lines print only their own output: no TensorFlow start-up lines on stderr."""

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image


def _predict(tmp_path, *flags: str) -> subprocess.CompletedProcess:
    """``python -m core.predict`` on a small PNG with custom, TF_CPP_* unset as for a user."""
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((40, 50, 3), 120, np.uint8)).save(photo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    return subprocess.run(
        [sys.executable, "-m", "core.predict", str(photo), "--models", "custom", *flags],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_predict_prints_its_answer_and_nothing_on_stderr(tmp_path):
    result = _predict(tmp_path, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""
    answer = json.loads(result.stdout)
    assert answer and "custom" in json.dumps(answer)


def test_verbose_lets_tensorflow_speak(tmp_path):
    result = _predict(tmp_path, "--verbose")
    assert result.returncode == 0 and result.stderr != ""
