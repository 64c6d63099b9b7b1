"""Nothing shipped or checked in names a folder of the machine that made it.

A recorded command or a docstring holding ``/home/someone/...`` or ``/tmp/run3`` means nothing
on another machine; commands are recorded as a user types them, with relative paths.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = [
    ("artifacts", {".json", ".md"}),
    ("core", {".py"}),
    ("pages", {".py"}),
    ("ui", {".py"}),
    ("bench", {".py"}),
    ("tests", {".py"}),
    (".ci", {"", ".sh"}),
    (".streamlit", {".toml"}),
    ("dashboard.py", None),
    ("README.md", None),
    ("pyproject.toml", None),
]
# An absolute home, tmp or work folder (POSIX or Windows), not the tail of a relative path
# such as ``tests/tmp/`` or ``artifacts/.work/``, nor a URL's path.
MACHINE_PATH = re.compile(
    r"(?<![\w.~/:-])(?:/home/\w|/root/|/tmp/|/work/|/Users/\w)|\b[A-Za-z]:[\\/]{1,2}Users[\\/]"
)


def scanned_files() -> list[Path]:
    files = []
    for name, suffixes in SCANNED:
        path = ROOT / name
        if path.is_file():
            files.append(path)
            continue
        for file in sorted(path.rglob("*")):
            hidden = any(part.startswith(".") for part in file.relative_to(path).parts)
            # artifacts/.work holds this machine's runs in progress (ignored by git).
            if file.is_file() and not hidden and file.suffix in suffixes:
                files.append(file)
    return [f for f in files if f.resolve() != Path(__file__).resolve()]


def machine_paths(text: str) -> list[str]:
    return [m.group(0) for m in MACHINE_PATH.finditer(text)]


def test_the_pattern_finds_machine_paths_and_only_those():
    found = [
        "--artifacts /work/runs/e30",
        "cache in /home/alice/.cache",
        "see /root/.keras/models",
        "written to /tmp/tmpab12/x.npz",
        "/Users/bob/data",
        r"C:\Users\bob\data",
        r"'C:\\Users\\bob'",
    ]
    not_found = [
        "--data ../shared/datasets/cifar10-jpeg",
        "artifacts/.work/custom/lock",
        "tests/tmp/file",
        "tempfile.mkdtemp(prefix='run-')",
        "https://example.org/tmp/file and https://example.org/home/x",
        "~/.cache/cifar10-studio/",
    ]
    assert [bool(machine_paths(t)) for t in found] == [True] * len(found)
    assert [t for t in not_found if machine_paths(t)] == []


def test_no_shipped_or_checked_in_file_names_a_machine_path():
    files = scanned_files()
    assert ROOT / "artifacts" / "vgg12_opt" / "config.json" in files
    assert ROOT / "core" / "train.py" in files and ROOT / "README.md" in files
    offenders = [
        f"{file.relative_to(ROOT)}:{number}: {line.strip()}"
        for file in files
        for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1)
        if machine_paths(line)
    ]
    assert offenders == []
