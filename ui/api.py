"""What the pages take from ``core`` beside ``ui.common``'s cached reads: figure builders,
constants, and pure functions of data already loaded.

Pages import ``core`` only through here and ``ui.common`` (tests/test_layout.py checks it), so
``core``'s layout can change without touching them. Each name is imported on first use
(PEP 562): a page pays only for what it uses, and the Overview draws its headline before pandas
and Plotly are imported.
"""

from __future__ import annotations

import importlib

# name -> (module, attribute); attribute None: the module itself.
_SOURCES: dict[str, tuple[str, str | None]] = {
    "abstain": ("core.analysis.abstain", None),
    "agreement": ("core.analysis.agreement", None),
    "compare": ("core.analysis.compare", None),
    "embedding": ("core.analysis.embedding", None),
    "ood": ("core.analysis.ood", None),
    "answers": ("core.analysis.mistakes", "answers"),
    "confident_mistakes": ("core.analysis.mistakes", "confident_mistakes"),
    "possibly_mislabelled": ("core.analysis.mistakes", "possibly_mislabelled"),
    "REFERENCE": ("core.analysis.reference", "REFERENCE"),
    "best_reference": ("core.analysis.reference", "best_reference"),
    "check_claim": ("core.analysis.reference", "check_claim"),
    "CORRUPTIONS": ("core.analysis.robustness", "CORRUPTIONS"),
    "SEVERITIES": ("core.analysis.robustness", "SEVERITIES"),
    "corrupt": ("core.analysis.robustness", "corrupt"),
    "summary_line": ("core.analysis.robustness", "summary_line"),
    "format_p": ("core.analysis.stats", "format_p"),
    "AugmentConfig": ("core.data.augment", "AugmentConfig"),
    "augment_images": ("core.data.augment", "augment_images"),
    "CLASS_NAMES": ("core.data.cifar10", "CLASS_NAMES"),
    "DATA_ENV": ("core.data.cifar10", "DATA_ENV"),
    "scale": ("core.data.cifar10", "scale"),
    "MAX_BYTES": ("core.data.images", "MAX_BYTES"),
    "SUPPORTED_FORMATS": ("core.data.images", "SUPPORTED_FORMATS"),
    "ImageRejected": ("core.data.images", "ImageRejected"),
    "decode_for_model": ("core.data.images", "decode_for_model"),
    "BatchError": ("core.data.uploads", "BatchError"),
    "MAX_BATCH": ("core.data.uploads", "MAX_BATCH"),
    "MAX_ZIP_BYTES": ("core.data.uploads", "MAX_ZIP_BYTES"),
    "capped": ("core.data.uploads", "capped"),
    "from_uploads": ("core.data.uploads", "from_uploads"),
    "labelled": ("core.data.uploads", "labelled"),
    "own_photos": ("core.analysis.own_photos", None),
    "classify_batch": ("core.serving.batch", "classify_batch"),
    "answering": ("core.serving.readiness", "answering"),
    "evaluate_labelled": ("core.serving.batch", "evaluate_labelled"),
    "table_rows": ("core.serving.batch", "table_rows"),
    "thumbnail": ("core.serving.batch", "thumbnail"),
    "to_csv": ("core.serving.batch", "to_csv"),
    "charts": ("core.reporting.charts", None),
    "by_any_label": ("core.reporting.palette", "by_any_label"),
    "short_label": ("core.reporting.palette", "short_label"),
    "example_rows": ("core.reporting.examples", "example_rows"),
    "deployment": ("core.serving.deployment", None),
    "MAX_FILES": ("core.serving.classify", "MAX_FILES"),
    "classify_files": ("core.serving.classify", "classify_files"),
    "jobs": ("core.training.jobs", None),
    "import_job": ("core.training.import_job", None),
    "MODEL_MAX_BYTES": ("core.models.model_file", "MAX_BYTES"),
    "SCALINGS": ("core.models.scaling", "SCALINGS"),
    "runspec": ("core.training.runspec", None),
    "RunSpec": ("core.training.runspec", "RunSpec"),
}
__all__ = sorted(_SOURCES)


def __getattr__(name: str):
    try:
        module, attribute = _SOURCES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
