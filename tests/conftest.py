import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from core.data import Cifar10, save_npz  # noqa: E402


def make_tiny_dataset(n_train: int = 200, n_test: int = 60, seed: int = 0) -> Cifar10:
    """Random images whose mean brightness depends on the class, so a model can learn a bit."""
    rng = np.random.default_rng(seed)

    def draw(n):
        labels = np.arange(n) % 10
        base = (labels * 25)[:, None, None, None]
        images = np.clip(base + rng.integers(0, 30, size=(n, 32, 32, 3)), 0, 255).astype(np.uint8)
        return images, labels.astype(np.int64)

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return Cifar10(x_train, y_train, x_test, y_test, "tiny", "tiny", "0" * 64)


@pytest.fixture(autouse=True)
def _not_a_viewer(monkeypatch):
    """The tests choose viewer mode themselves; a CIFAR10_STUDIO_VIEWER=1 left in the shell that
    runs them would hide the Train page from every test that uses it."""
    monkeypatch.delenv("CIFAR10_STUDIO_VIEWER", raising=False)


@pytest.fixture(scope="session")
def tiny_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    save_npz(make_tiny_dataset(), path)
    return path


@pytest.fixture(scope="session")
def trained(tiny_npz, tmp_path_factory):
    """An artifacts folder holding a `custom` model trained for 2 epochs on the tiny data."""
    from core import train

    root = tmp_path_factory.mktemp("artifacts")
    args = ["custom", "--data", str(tiny_npz), "--epochs", "2", "--batch-size", "32"]
    assert train.main([*args, "--artifacts", str(root), "--quiet"]) == 0
    return root
