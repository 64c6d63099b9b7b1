"""Every model the studio knows: the registry's shipped models and the models added to the
artifacts root (``python -m core.add_model``), one ``ModelSpec`` each.

    list_models(root) -> ["custom", ..., "efficientnet_lite0_transfer", "my_net", ...]
    spec_of(name, root) -> ModelSpec     # the registry's, or one built from config.json
    imported(name, root) -> dict | None  # config.json's "imported" section, if it is added
    is_shipped(name) -> bool
    label(name, root) -> "My net (imported)"  # the title every page names a model by

Read on every call, so a model added while the dashboard runs is listed at once; each added
model's config.json is parsed again only when its size or mtime changes.
TensorFlow-free, like the registry: an added model's spec is read from its config.json.
"""

from __future__ import annotations

import json
import os

from core.models.registry import REGISTRY, ModelSpec, TrainDefaults
from core.store import artifacts

FAMILY = "imported"
MARK = "imported"

# config.json path -> ((size, mtime_ns), its "imported" section or None)
_SECTIONS: dict[str, tuple[tuple[int, int], dict | None]] = {}


def is_shipped(name: str) -> bool:
    return name in REGISTRY


def imported(name: str, root: str | os.PathLike | None = None) -> dict | None:
    """The ``imported`` section of an added model's config.json; None for any other folder."""
    if is_shipped(name):
        return None
    path = artifacts.artifacts_root(root) / name / artifacts.CONFIG_FILE
    try:
        found = path.stat()
    except OSError:
        return None
    key = (found.st_size, found.st_mtime_ns)
    cached = _SECTIONS.get(str(path))
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        section = json.loads(path.read_text()).get("imported")
    except (OSError, ValueError, AttributeError):
        section = None
    section = section if isinstance(section, dict) else None
    _SECTIONS[str(path)] = (key, section)
    return section


def imported_names(root: str | os.PathLike | None = None) -> list[str]:
    """Added models in the artifacts root, sorted by name."""
    base = artifacts.artifacts_root(root)
    if not base.is_dir():
        return []
    names = [p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(n for n in names if imported(n, root) is not None)


def list_models(root: str | os.PathLike | None = None) -> list[str]:
    """The shipped models (registry order), then the added ones (by name)."""
    return [*REGISTRY, *imported_names(root)]


def _not_buildable(*args, **kwargs):
    raise TypeError("an added model is loaded from its artifact, never built or trained here")


def spec_of(name: str, root: str | os.PathLike | None = None) -> ModelSpec:
    """The description of any model, shipped or added; KeyError if it is neither."""
    if name in REGISTRY:
        return REGISTRY[name]
    section = imported(name, root)
    if section is None:
        raise KeyError(
            f"Unknown model {name!r}; choose one of {', '.join(list_models(root))}."
        ) from None
    return ModelSpec(
        name=name,
        family=FAMILY,
        title=section.get("title") or name,
        description=(
            f"Imported from {section.get('file', '?')} ({section.get('format_title', '?')}); "
            "training data and recipe: not known to the studio."
        ),
        build=_not_buildable,
        defaults=TrainDefaults(),
        gradcam_layer=section.get("gradcam_layer") or "",
    )


def title(name: str, root: str | os.PathLike | None = None) -> str:
    """The model's full title (its name for a folder that is neither shipped nor added)."""
    try:
        return spec_of(name, root).title
    except KeyError:
        return name


def label(name: str, root: str | os.PathLike | None = None) -> str:
    """The title a page names the model by: an added model's ends in "(imported)"."""
    shown = title(name, root)
    return f"{shown} ({MARK})" if imported(name, root) is not None else shown
