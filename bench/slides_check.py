"""Open the slide deck in LibreOffice Impress and render its pages as PNG images, for review.

    python bench/slides_check.py [--deck deck.pptx] [--out docs/slides] [--examples 4]

Without ``--deck`` it first builds the deck from ``artifacts/``
(``core.reporting.slides.build_deck``,
timed). Then ``soffice --headless --convert-to pdf`` converts it (LibreOffice exits with an
error, or writes no PDF, when it cannot read the file) and ``pdftoppm`` renders each page as
``slide-N.png`` in ``--out``. Prints the build time, the size, the slide count of the deck and
of the PDF, and the conversion time. Needs LibreOffice Impress and poppler's ``pdftoppm``
(Debian: ``apt-get install libreoffice-impress poppler-utils``; ``fonts-crosextra-carlito``
gives the metrics of the deck's Calibri font).
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(examples: int, out: Path) -> Path:
    from core.reporting import slides

    started = time.perf_counter()
    deck = slides.write_deck(out / "deck.pptx", n_examples=examples)
    print(f"built {deck.name}: {time.perf_counter() - started:.1f} s")
    return deck


def to_pdf(deck: Path, out: Path, timeout: float = 300) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        sys.exit("soffice not found: apt-get install libreoffice-impress")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as profile:  # a fresh profile: no first-run dialogs
        done = subprocess.run(
            [soffice, f"-env:UserInstallation=file://{profile}", "--headless",
             "--convert-to", "pdf", "--outdir", str(out), str(deck)],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    pdf = out / (deck.stem + ".pdf")
    if done.returncode or not pdf.is_file():
        sys.exit(f"LibreOffice could not convert {deck.name}: {done.stderr or done.stdout}")
    print(f"LibreOffice converted it to PDF: {time.perf_counter() - started:.1f} s")
    return pdf


def to_png(pdf: Path, out: Path, dpi: int) -> list[Path]:
    for old in out.glob("slide-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), str(pdf), str(out / "slide")], check=True)
    return sorted(out.glob("slide-*.png"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deck", help="an existing .pptx (default: build one from artifacts/)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "slides"), help="PNG folder")
    parser.add_argument("--examples", type=int, default=4, help="Grad-CAM test images")
    parser.add_argument("--dpi", type=int, default=60, help="PNG resolution (60: 800x450)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    deck = Path(args.deck) if args.deck else build(args.examples, out)
    from pptx import Presentation

    n_slides = len(Presentation(str(deck)).slides)
    print(f"{deck.name}: {deck.stat().st_size / 1e6:.2f} MB, {n_slides} slides")
    pages = to_png(to_pdf(deck, out), out, args.dpi)
    print(f"{len(pages)} PDF pages rendered into {out}")
    if len(pages) != n_slides:
        print(f"error: {n_slides} slides but {len(pages)} pages", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
