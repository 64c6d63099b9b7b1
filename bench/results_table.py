"""The README's results table, generated from the artifacts.

    python bench/results_table.py            # print the Markdown table
    python bench/results_table.py --write    # replace it in README.md, between the markers

One row per ready model in ``artifacts/`` (``$CIFAR10_ARTIFACTS`` moves it), in registry order:
a folder counts when it holds both metrics.json and config.json. Columns: the registry title and
name, test accuracy and macro F1 (metrics.json), the reference-style precision / recall / F1
(metrics.json "reference_style"), the reference's accuracy where
``core.analysis.reference.REFERENCE``
has the model, and the training command from config.json, with the data source written as
``PATH`` (a recorded path is the training machine's, not the reader's).

TensorFlow is not imported: the registry's titles come from ``core.models.registry``, which has none
(only a checkout without that module falls back to ``core.models.builders``, and so to TensorFlow).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
README = ROOT / "README.md"
START = "<!-- results:start -->"
END = "<!-- results:end -->"

# Option values that name a file or folder of the machine that trained the model.
PLACEHOLDERS = {"--data": "PATH", "--weights": "FILE"}

HEADER = (
    "| model | test accuracy | macro F1 | reference-style P / R / F1 | reference accuracy "
    "| training command |\n"
    "|---|---|---|---|---|---|"
)


def registry_titles() -> dict[str, str]:
    """Registry name -> title, in registry order.

    ``core.models.registry`` holds the registry without TensorFlow; where it does not exist (older
    checkouts) the registry comes from ``core.models.builders``, which imports Keras and
    TensorFlow."""
    if importlib.util.find_spec("core.models.registry") is not None:
        from core.models.registry import REGISTRY
    else:
        from core.models.builders import REGISTRY
    return {name: spec.title for name, spec in REGISTRY.items()}


def _reference_accuracy() -> dict[str, float]:
    from core.analysis.reference import REFERENCE  # dataclasses only, no TensorFlow

    return {name: ref.accuracy for name, ref in REFERENCE.items()}


def artifacts_dir() -> Path:
    return Path(os.environ.get("CIFAR10_ARTIFACTS", ROOT / "artifacts"))


def neutral_command(command: str) -> str:
    """The recorded command with the values of --data and --weights replaced by PATH and FILE."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    out: list[str] = []
    replace_next = None
    for word in words:
        if replace_next:
            out.append(replace_next)
            replace_next = None
            continue
        option, eq, _ = word.partition("=")
        if option in PLACEHOLDERS and eq:
            out.append(f"{option}={PLACEHOLDERS[option]}")
        elif word in PLACEHOLDERS:
            out.append(word)
            replace_next = PLACEHOLDERS[word]
        else:
            out.append(word)
    return shlex.join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def results_table(artifacts: Path | None = None) -> str:
    """The Markdown table of every ready model's test results (no trailing newline)."""
    artifacts = artifacts_dir() if artifacts is None else Path(artifacts)
    reference = _reference_accuracy()
    rows = [HEADER]
    for name, title in registry_titles().items():
        folder = artifacts / name
        if not ((folder / "metrics.json").is_file() and (folder / "config.json").is_file()):
            continue
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        style = metrics["reference_style"]
        prf = f"{style['precision']:.3f} / {style['recall']:.3f} / {style['f1']:.3f}"
        ref = f"{reference[name]:.4f}" if name in reference else "-"
        command = config.get("command")
        command = f"`{_cell(neutral_command(command))}`" if command else "-"
        rows.append(
            f"| {_cell(title)}, `{name}` | {metrics['accuracy']:.4f} "
            f"| {metrics['f1_macro']:.4f} | {prf} | {ref} | {command} |"
        )
    return "\n".join(rows)


def readme_table(text: str) -> str:
    """What README text holds between the results markers, stripped."""
    start, end = text.index(START), text.index(END)
    if end < start:
        raise ValueError(f"{END} comes before {START}")
    return text[start + len(START) : end].strip()


def write_readme(table: str, readme: Path = README) -> bool:
    """Put the table between the markers in README; True if the file changed."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(START), text.index(END)
    if end < start:
        raise ValueError(f"{END} comes before {START} in {readme}")
    new = text[: start + len(START)] + "\n" + table + "\n" + text[end:]
    if new == text:
        return False
    readme.write_text(new, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--write", action="store_true", help="replace the table in README.md between the markers"
    )
    args = parser.parse_args(argv)
    table = results_table()
    if args.write:
        changed = write_readme(table)
        print(f"README.md {'updated' if changed else 'already up to date'}.")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
