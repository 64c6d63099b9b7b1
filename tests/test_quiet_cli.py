"""The command lines print only their own output: no TensorFlow start-up lines on stderr."""

import json
import subprocess
import sys

import numpy as np
from PIL import Image


def test_predict_prints_its_answer_and_nothing_on_stderr(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((40, 50, 3), 120, np.uint8)).save(photo)
    env_free = {k: v for k, v in __import__("os").environ.items() if not k.startswith("TF_CPP")}
    result = subprocess.run(
        [sys.executable, "-m", "core.predict", str(photo), "--models", "custom", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env_free,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""
    answer = json.loads(result.stdout)
    assert answer and "custom" in json.dumps(answer)


def test_verbose_lets_tensorflow_speak(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((40, 50, 3), 120, np.uint8)).save(photo)
    env_free = {k: v for k, v in __import__("os").environ.items() if not k.startswith("TF_CPP")}
    result = subprocess.run(
        [sys.executable, "-m", "core.predict", str(photo), "--models", "custom", "--verbose"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env_free,
    )
    assert result.returncode == 0 and result.stderr != ""
