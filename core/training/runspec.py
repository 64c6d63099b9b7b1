"""One description of a training run: the model's recipe plus what the user overrides.

``RunSpec`` is built from a registry model's ``TrainDefaults`` and overrides, saved with the
run (``--resume`` reloads it) and in the artifact's config.json. The ``core.training.train`` command
line and the dashboard's Train form are both derived from its fields, so an option is added
in one place.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from core.data.augment import AugmentConfig

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "onecycle")
STRATEGIES = ("none", "mirrored", "multiworker")


def _opt(help: str, choices: tuple[str, ...] = (), form: bool = False, **kw) -> Any:
    """A field with its command-line help (and choices); ``form`` puts it on the Train page."""
    default = kw.pop("default")
    return field(default=default, metadata={"help": help, "choices": choices, "form": form})


@dataclass(frozen=True)
class RunSpec:
    model: str
    epochs: int = _opt("epochs", form=True, default=20)
    batch_size: int = _opt("batch size", form=True, default=128)
    lr: float = _opt("(peak) learning rate", form=True, default=1e-3)
    optimizer: str = _opt("optimizer", OPTIMIZERS, form=True, default="adam")
    schedule: str = _opt(
        "learning-rate schedule: constant, or one cycle (linear warm-up, cosine decay)",
        SCHEDULES,
        form=True,
        default="constant",
    )
    weight_decay: float = _opt("weight decay (adamw, sgd)", form=True, default=0.0)
    label_smoothing: float = _opt("label smoothing", form=True, default=0.0)
    augment: AugmentConfig = field(default_factory=AugmentConfig.reference)
    tta_flip: bool = _opt(
        "may ship the model averaging the image and its mirror (kept only if it raises "
        "validation accuracy)",
        default=False,
    )
    tta_shift: bool = _opt(
        "with --tta-flip: may also average both moved one pixel diagonally each way",
        default=False,
    )
    early_stopping: int = _opt("patience in epochs on validation accuracy (0 = off)", default=0)
    data: str | None = _opt(
        "CIFAR-10 source: tarball, cifar-10-batches-py/, class folders or .npz "
        "(default: $CIFAR10_DATA, else the official download)",
        default=None,
    )
    val_fraction: float = _opt("share of the training set held out for validation", default=0.1)
    seed: int = _opt("random seed", default=0)
    distribute: str = _opt("tf.distribute strategy", STRATEGIES, default="none")
    weights: str | None = _opt(
        "transfer models: 'imagenet' (the model's own source) or a weights file",
        default="imagenet",
    )
    input_size: int = _opt("transfer models: upscaled input size", default=128)
    head_epochs: int = _opt(
        "cached-feature transfer models: epochs of the new head alone on the frozen ImageNet "
        "backbone (the reference's recipe), before the upper blocks are fine-tuned",
        default=0,
    )
    frozen_cut: str | None = _opt(
        "ResNet50/VGG16: the last frozen stage (resnet50: stem, conv2, conv3, conv4_block3 "
        "(conv4's first half), conv4; vgg16: block1..block4); the stages above it are fine-tuned",
        default=None,
    )
    tune_batchnorm: bool = _opt(
        "cached-feature transfer models: the fine-tuned blocks' BatchNorm layers train too "
        "(batch statistics while training, moving statistics adapted to CIFAR-10) instead of "
        "keeping their ImageNet statistics",
        default=False,
    )
    limit_train: int | None = _opt("use a random subset of the training set", default=None)
    limit_test: int | None = _opt("use a random subset of the test set", default=None)

    @classmethod
    def for_model(cls, model: str, **overrides: Any) -> RunSpec:
        """The registry recipe of ``model`` with every override that is not None applied."""
        from core.models.registry import get_spec

        recipe = asdict(get_spec(model).defaults)
        recipe["augment"] = get_spec(model).defaults.augment
        spec = cls(model=model, **recipe)
        return replace(spec, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict:
        return {**asdict(self), "augment": self.augment.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["augment"] = AugmentConfig(**data.get("augment", {}))
        return cls(**values)

    def command(self, extra: list[str] | None = None) -> str:
        """How a user types this run: only what differs from the model's recipe."""
        recipe = RunSpec.for_model(self.model)
        return " ".join(["python -m core.train", *self.cli_args(recipe), *(extra or [])])

    def cli_args(self, relative_to: RunSpec | None = None) -> list[str]:
        """``[MODEL, --option value, ...]``, leaving out values equal to ``relative_to``'s."""
        args = [self.model]
        for f in _cli_fields():
            value = getattr(self, f.name)
            if relative_to is not None and value == getattr(relative_to, f.name):
                continue
            flag = "--" + f.name.replace("_", "-")
            if isinstance(value, bool):
                args.append(flag if value else "--no-" + flag[2:])
            elif f.name == "weights" and value is None:
                args += [flag, "none"]
            elif value is not None:
                args += [flag, repr(value) if isinstance(value, float) else str(value)]
        aug, ref = self.augment, (relative_to.augment if relative_to else None)
        for name in ("rotation", "shift", "zoom", "flip"):
            value = getattr(aug, name)
            if ref is not None and value == getattr(ref, name):
                continue
            if name == "flip":
                args.append("--flip" if value else "--no-flip")
            else:
                args += [f"--{name}", repr(float(value))]
        return args


def _cli_fields():
    return [f for f in fields(RunSpec) if f.name not in ("model", "augment")]


def form_fields() -> list:
    """The fields the dashboard's Train form shows, in order, with their help and choices."""
    return [f for f in fields(RunSpec) if f.metadata.get("form")]


def _field_type(f) -> type:
    text = str(f.type)
    return int if text.startswith("int") else float if text.startswith("float") else str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per RunSpec field (defaults None: the model's recipe decides)."""
    for f in _cli_fields():
        flag = "--" + f.name.replace("_", "-")
        meta = f.metadata
        if str(f.type) == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=meta["help"])
        else:
            parser.add_argument(
                flag, type=_field_type(f), choices=meta["choices"] or None, help=meta["help"]
            )
    group = parser.add_argument_group("augmentation (default: the model's recipe)")
    group.add_argument("--rotation", type=float, help="max rotation in degrees")
    group.add_argument("--shift", type=float, help="max width/height shift (fraction)")
    group.add_argument("--zoom", type=float, help="max zoom (fraction)")
    group.add_argument("--flip", action=argparse.BooleanOptionalAction, help="horizontal flips")
    group.add_argument("--no-augment", action="store_true", help="no augmentation at all")


def from_arguments(args: argparse.Namespace) -> RunSpec:
    """The RunSpec an ``add_arguments`` parser's result describes."""
    overrides = {f.name: getattr(args, f.name) for f in _cli_fields()}
    spec = RunSpec.for_model(args.model, **overrides)
    if args.weights == "none":  # train a transfer architecture from random weights
        spec = replace(spec, weights=None)
    if args.no_augment:
        return replace(spec, augment=AugmentConfig(rotation=0.0, shift=0.0, flip=False, zoom=0.0))
    changes = {
        k: getattr(args, k)
        for k in ("rotation", "shift", "zoom", "flip")
        if getattr(args, k) is not None
    }
    return replace(spec, augment=replace(spec.augment, **changes))


def argv(spec: RunSpec, artifacts_dir: str | None = None) -> list[str]:
    """The full command line that runs ``spec`` in a child process (the dashboard's runs)."""
    args = [sys.executable, "-m", "core.train", *spec.cli_args()]
    return args + (["--artifacts", artifacts_dir] if artifacts_dir else [])
