"""Take it to the meeting: one self-contained HTML report of every trained model.

    python -m core.report [--out report.html] [--examples 6]
    python -m core.report --pptx deck.pptx         # the slide deck instead (core.reporting.slides)

The file opens offline in any browser: plotly.js, the styles and every image (PNG ``data:``
URIs) are inside it; it loads no remote script, style or font. It holds the model table with
bootstrap 95 % intervals, McNemar's test between the models, the agreement sets (which images
which models get right), the reference comparison, confusion matrices, per-class F1,
calibration (ECE, temperature, reliability diagram), risk-coverage curves (abstaining), the
embedding map of the best model (``embedding.npz``),
robustness under corruptions (from each artifact's ``robustness.json``), unfamiliar-image
detection (``ood.json``), a few test images with
each model's answer and Grad-CAM heatmap, and each model's card. The dashboard's download button
calls ``build_report`` too.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import itertools
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from core.analysis import (
    abstain,
    agreement,
    calibration,
    compare,
    embedding,
    imagenet_gate,
    ood,
    robustness,
    stats,
)
from core.analysis.reference import REFERENCE
from core.data.cifar10 import CLASS_NAMES, scale
from core.io import atomic
from core.reporting import charts, palette
from core.reporting.examples import example_rows
from core.store import artifacts

DEFAULT_OUT = "report.html"
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem;
     margin-top: 2.5rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: left; }
th { background: #f6f8fa; }
.muted { color: #59636e; } .grid { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; text-align: center; font-size: 0.85rem; }
img.pixels { image-rendering: pixelated; width: 128px; height: 128px; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 0 1rem; margin: 1rem 0; }
code { background: #f6f8fa; padding: 0.1rem 0.3rem; border-radius: 4px; }
.card h1 { font-size: 1.25rem; } .card h2 { font-size: 1.1rem; border: none; margin-top: 1rem; }
"""


def _esc(text: object) -> str:
    return html.escape(str(text))


def _figure(fig: go.Figure) -> str:
    return fig.to_html(
        full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True}
    )


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, border=0)


def _png(image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _title(name: str) -> str:
    """The model's title; an added model's marked "(imported)" (``core.store.catalog.label``)."""
    from core.store.catalog import label

    return label(name)


def _minutes(seconds: float | None) -> str:
    return f"{seconds / 60:.0f} min" if seconds else "-"


def _models_section(names: list[str], data: dict, n_boot: int) -> str:
    rows = []
    for name in names:
        m, cfg, preds = data[name]["metrics"], data[name]["config"], data[name]["preds"]
        ci = stats.headline_intervals(preds["y_true"], preds["probs"], n_boot=n_boot)
        rows.append(
            {
                "model": f"{_title(name)} ({name})",
                "accuracy [95% interval]": stats.format_interval(m["accuracy"], ci["accuracy"]),
                "macro F1 [95% interval]": stats.format_interval(m["f1_macro"], ci["f1_macro"]),
                "loss": f"{m['loss']:.3f}",
                "top-3 accuracy": f"{m['top3_accuracy']:.4f}",
                "parameters": f"{cfg.get('parameters', 0):,}",
                "epochs": cfg.get("epochs_trained", "-"),
                "training time": _minutes(cfg.get("wall_time_s")),
            }
        )
    out = [
        "<h2>Models</h2>",
        _table(pd.DataFrame(rows)),
        f"<p class='muted'>Intervals: percentile bootstrap over the {_n_test(data):,} test "
        f"images ({n_boot:,} resamples, seed 0), "
        "<code>core.analysis.stats.headline_intervals</code>.</p>",
    ]
    if len(names) > 1:
        out.append("<h3>Is the difference real? (McNemar's exact test)</h3><ul>")
        for a, b in itertools.combinations(names, 2):
            pa, pb = data[a]["preds"], data[b]["preds"]
            if len(pa["y_true"]) != len(pb["y_true"]):
                continue
            test = stats.mcnemar(pa["y_true"], pa["probs"], pb["probs"])
            out.append(f"<li>{_esc(test.sentence(_title(a), _title(b)))}</li>")
        out.append("</ul>")
    return "\n".join(out)


def _n_test(data: dict) -> int:
    return max(len(d["preds"]["y_true"]) for d in data.values())


def _reference_section(names: list[str], data: dict) -> str:
    rows = []
    for name in names:
        ref = REFERENCE.get(name)
        if ref is None:
            continue
        ours = data[name]["metrics"]
        style = ours["reference_style"]
        rows.append(
            {
                "model": _title(name),
                "our accuracy": f"{ours['accuracy']:.4f}",
                "reference accuracy": f"{ref.accuracy:.4f}",
                "our P / R / F1 (reference style)": (
                    f"{style['precision']:.3f} / {style['recall']:.3f} / {style['f1']:.3f}"
                ),
                "reference P / R / F1": f"{ref.precision:.3f} / {ref.recall:.3f} / {ref.f1:.3f}",
            }
        )
    if not rows:
        return "<h2>Reference comparison</h2><p>No model with a reference result is trained.</p>"
    return (
        "<h2>Reference comparison</h2>"
        + _table(pd.DataFrame(rows))
        + "<p class='muted'>Reference-style precision and recall: Keras <code>Precision()"
        "</code>/<code>Recall()</code> on the softmax outputs at threshold 0.5, pooled over "
        "classes, as the reference computed them.</p>"
    )


def _confusion_section(names: list[str], data: dict) -> str:
    parts = ["<h2>Confusion matrices and per-class F1</h2><div class='grid'>"]
    for name in names:
        fig = charts.confusion_figure(data[name]["metrics"]["confusion_matrix"], _title(name))
        fig.update_layout(width=560)
        parts.append(f"<div>{_figure(fig)}</div>")
    parts.append("</div><h3>F1 per class</h3>")
    parts.append(_figure(charts.per_class_figure({_title(n): data[n]["metrics"] for n in names})))
    return "\n".join(parts)


def _calibration_section(names: list[str], data: dict, root) -> str:
    rows, diagrams, missing = [], {}, []
    for name in names:
        preds = data[name]["preds"]
        summary = calibration.for_artifact(name, root)
        test = summary["test"]
        t = summary["temperature"]
        if t is None:
            missing.append(name)
        rows.append(
            {
                "model": _title(name),
                "ECE (test)": f"{test['ece_before']:.4f}",
                "NLL (test)": f"{test['nll_before']:.4f}",
                "temperature (fitted on validation)": "-" if t is None else f"{t:.3f}",
                "ECE after": "-" if t is None else f"{test['ece_after']:.4f}",
                "NLL after": "-" if t is None else f"{test['nll_after']:.4f}",
            }
        )
        diagrams[_title(name)] = calibration.reliability(preds["y_true"], preds["probs"])
    out = [
        "<h2>Can we trust the confidence? Calibration</h2>",
        _table(pd.DataFrame(rows)),
        "<p class='muted'>Expected calibration error over 15 equal-width confidence bins. "
        "Temperature scaling divides the logits by T, fitted on the validation split (never the "
        "test set); it changes confidence, not the answers.</p>",
        _figure(charts.reliability_figure(diagrams)),
    ]
    if missing:
        out.append(
            "<p>No validation predictions stored for "
            + ", ".join(f"<code>{_esc(n)}</code>" for n in missing)
            + ": <code>python -m core.calibration --backfill "
            + " ".join(_esc(n) for n in missing)
            + " --data PATH</code> adds them.</p>"
        )
    return "\n".join(out)


def _agreement_section(names: list[str], data: dict) -> str:
    """Agreement sets (``core.analysis.agreement``): the UpSet-style chart and the largest
    patterns."""
    y_true = data[names[0]]["preds"]["y_true"]
    same = [n for n in names if np.array_equal(data[n]["preds"]["y_true"], y_true)]
    if len(same) < 2:
        return ""
    labels = {n: palette.short_label(n) for n in same}
    correct = agreement.correctness(y_true, {n: data[n]["preds"]["probs"] for n in same})
    table = agreement.patterns(correct, labels, agreement.default_groups(same))
    top = table.head(10)[["pattern", "images", "share"]].assign(
        share=lambda t: t["share"].map("{:.1%}".format)
    )
    return "\n".join(
        [
            "<h2>Agreement sets: which images which models get right</h2>",
            f"<p class='muted'>Each of the {len(y_true):,} test images falls in one pattern: the "
            f"set of models ({', '.join(_esc(labels[n]) for n in same)}) that get it right. "
            f"{len(table)} of the {2 ** len(same)} possible patterns occur; filled dots: right."
            "</p>",
            _figure(charts.upset_figure(table, labels, palette.by_any_label())),
            "<h3>The largest patterns</h3>",
            _table(top),
        ]
    )


def _abstain_section(names: list[str], data: dict, root) -> str:
    """Risk-coverage curves (``core.analysis.abstain``): accuracy when the model may say "not
    sure"."""
    curves = {}
    for name in names:
        preds = data[name]["preds"]
        t = abstain.temperature(name, root)
        curves[palette.short_label(name)] = abstain.risk_coverage(
            preds["y_true"], preds["probs"], t
        )
    summary = abstain.summary_rows(curves)
    for column in summary.columns[1:]:
        fmt = "{:.2f}" if "below" in column else "{:.1%}"
        summary[column] = summary[column].map(fmt.format)
    return "\n".join(
        [
            "<h2>What if it may say \u201cnot sure\u201d? Risk-coverage</h2>",
            "<p class='muted'>Each model answers its most confident test images first "
            "(temperature-scaled confidence where it has a temperature) and abstains on the "
            "rest: accuracy on the answered images against the share answered.</p>",
            _figure(charts.risk_coverage_figure(curves, palette.by_any_label())),
            _table(summary),
        ]
    )


def _gate_paragraph(root) -> str:
    """The flag uploads get (``core.analysis.imagenet_gate``): how it was chosen, its costs."""
    info = imagenet_gate.summary(root)
    if info is None:
        return ""
    rule, choose, val = info["rule"], info["choosing_set"], info["validation"]
    test = info.get("test")
    kinds = ", ".join(f"{k} {v:.0%}" for k, v in choose["per_kind"].items())
    word = "any" if rule["statistic"] == "max" else "all its"
    return (
        "<p>An upload is flagged <b>before any answer</b> (&ldquo;This does not look like any "
        "of the ten CIFAR-10 classes&rdquo;) when EfficientNet-Lite0's ImageNet classifier "
        f"gives less than {rule['threshold']:.1%} to {word} CIFAR-10-like ImageNet classes"
        + (
            f", or when {_esc(str(rule['present_model']))}'s own score is above "
            f"{rule['present_threshold']:.4g}"
            if rule.get("present_threshold") is not None
            else ""
        )
        + f". Chosen on a choosing set (flagged: {kinds}; AUROC of the ImageNet part "
        f"{choose['auroc']:.3f}) and CIFAR-10's validation split ({val['flagged']:.1%} flagged)"
        + (f"; {test['flagged']:.1%} of CIFAR-10 test images flagged" if test else "")
        + ".</p>"
    )


def _unfamiliar_section(names: list[str], root) -> str:
    """Unfamiliar-image detection (``core.analysis.ood``): the table of the Trust page and its
    figure."""
    summaries = {n: s for n in names if (s := ood.summary(n, root))}
    gate = _gate_paragraph(root)
    if not summaries:
        return "<h2>Does it notice an image unlike CIFAR-10?</h2>" + gate if gate else ""
    titles = {n: _title(n) for n in summaries}
    judge = (imagenet_gate.summary(root) or {}).get("rule", {}).get("present_model")
    frame = pd.DataFrame(ood.table_rows(summaries, titles, judge))
    for col in ("detected at 5% false alarms", "CIFAR-10 test flagged"):
        frame[col] = frame[col].map("{:.1%}".format)
    frame["AUROC"] = frame["AUROC"].map("{:.3f}".format)
    frame["threshold"] = frame["threshold"].map("{:.4g}".format)
    return "\n".join(
        [
            "<h2>Does it notice an image unlike CIFAR-10?</h2>",
            gate,
            _table(frame),
            "<p class='muted'>On the unfamiliar test set (photos shipped with scikit-image and "
            "scikit-learn and rendered patterns, none of the ten classes, apart from the set the "
            "method was chosen on); the threshold lets 95 % of CIFAR-10 validation images pass. "
            + " ".join(f"<code>{_esc(s['command'])}</code>" for s in summaries.values())
            + "</p>",
            _figure(charts.detection_figure(summaries, titles)),
        ]
    )


def _embedding_section(names: list[str], data: dict, root) -> str:
    """The embedding map (``core.analysis.embedding``) of the most accurate model that has one."""
    maps = {n: m for n in names if (m := embedding.load(n, root)) is not None}
    if not maps:
        return ""
    name = max(maps, key=lambda n: data[n]["metrics"]["accuracy"])
    preds, summary = data[name]["preds"], embedding.summary(name, root) or {}
    quality = summary.get("quality", {})
    fig = charts.map_figure(
        maps[name].coords, preds["y_true"], preds["probs"], "class", hover_text=False
    )
    return "\n".join(
        [
            f"<h2>How {_esc(_title(name))} sees the test images: the embedding map</h2>",
            f"<p class='muted'>Each dot is one of the {len(preds['y_true']):,} test images, "
            "placed by the model's penultimate features (PCA, then t-SNE): images the model "
            "finds alike sit together, and classes it confuses share ground. Trustworthiness "
            f"{quality.get('trustworthiness', float('nan')):.3f} (1: every dot's map neighbours "
            "are neighbours in the features). The dashboard's Embedding map page shows every "
            "model's map, other colourings and the images of any region. "
            f"<code>{_esc(summary.get('command', 'python -m core.embedding ' + name))}</code></p>",
            _figure(fig),
        ]
    )


def _robustness_section(names: list[str], root) -> str:
    results = {n: r for n in names if (r := robustness.load(n, root))}
    out = ["<h2>How does it hold up? Accuracy under corruptions</h2>"]
    if results:
        titled = {_title(n): r for n, r in results.items()}
        out.append("<ul>")
        out += [
            f"<li>{_esc(t)}: {_esc(robustness.summary_line(r))}</li>" for t, r in titled.items()
        ]
        out.append("</ul><div class='grid'>")
        for corruption in robustness.CORRUPTIONS:
            fig = charts.robustness_figure(corruption, titled)
            fig.update_layout(width=560)
            out.append(f"<div>{_figure(fig)}</div>")
        out.append("</div>")
        first = next(iter(results.values()))
        out.append(f"<p class='muted'>{_esc(first.get('subset', ''))}.</p>")
    missing = [n for n in names if n not in results]
    if missing:
        out.append(
            "<p>Not measured yet: "
            + ", ".join(f"<code>python -m core.robustness {_esc(n)}</code>" for n in missing)
            + ".</p>"
        )
    return "\n".join(out)


def _gradcam_section(names: list[str], root, n_examples: int) -> str:
    from core.analysis.gradcam import GradCam, overlay
    from core.store.samples import SamplesUnavailable, load_test_images

    out = ["<h2>Why did it say that? Grad-CAM on a few test images</h2>"]
    try:
        samples = load_test_images(root)
    except SamplesUnavailable as exc:
        return out[0] + f"<p>The test images are not available: {_esc(exc)}</p>"
    rows = example_rows(samples.labels, n_examples)
    images = samples.images[rows]
    out.append(
        "<p class='muted'>Each model's answer and confidence, and its Grad-CAM heatmap for that "
        "answer (bright: the pixels that pushed it towards the answer).</p><table><tr><th>image"
        "</th>" + "".join(f"<th>{_esc(_title(n))}</th>" for n in names) + "</tr>"
    )
    cams = {}
    for name in names:
        try:
            model = artifacts.Artifact(name, root).load_model()
            probs = np.asarray(model(scale(images), training=False))
            cams[name] = (probs, GradCam.for_model(name, model)(images, probs.argmax(axis=1)))
        except (artifacts.ArtifactError, ValueError) as exc:
            cams[name] = exc
    for i, image in enumerate(images):
        label = CLASS_NAMES[samples.labels[rows[i]]]
        cells = [
            f"<td><figure><img class='pixels' src='{_png(image)}' alt='test image {rows[i]}'>"
            f"<figcaption>true: {label}</figcaption></figure></td>"
        ]
        for name in names:
            if isinstance(cams[name], Exception):
                cells.append(f"<td>{_esc(cams[name])}</td>")
                continue
            probs, result = cams[name]
            k = int(result.class_index[i])
            mark = "right" if k == samples.labels[rows[i]] else "wrong"
            picture = overlay(image, result.heatmaps[i], alpha=0.5)
            cells.append(
                f"<td><figure><img class='pixels' src='{_png(picture)}' alt='Grad-CAM'>"
                f"<figcaption>{CLASS_NAMES[k]} {probs[i, k]:.0%} ({mark})</figcaption>"
                "</figure></td>"
            )
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _cards_section(names: list[str], data: dict, root) -> str:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    out = ["<h2>Model cards</h2>"]
    for name in names:
        cfg = data[name]["config"]
        machine = cfg.get("machine", {})
        facts = {
            "data": cfg.get("dataset", {}).get("id", "-"),
            "command": cfg.get("command", "-"),
            "training time": _minutes(cfg.get("wall_time_s")),
            "machine": f"{machine.get('cpu_count', '?')} CPU cores, {machine.get('platform', '?')}",
            "finished": cfg.get("finished", "-"),
        }
        rows = "".join(f"<tr><th>{k}</th><td>{_esc(v)}</td></tr>" for k, v in facts.items())
        card_path = artifacts.Artifact(name, root).path / artifacts.CARD_FILE
        card = card_path.read_text() if card_path.is_file() else "*No MODEL_CARD.md.*"
        out.append(
            f"<div class='card'><h3>{_esc(_title(name))} (<code>{_esc(name)}</code>)</h3>"
            f"<table>{rows}</table>{md.render(card)}</div>"
        )
    return "\n".join(out)


def build_report(
    root: str | os.PathLike | None = None, n_examples: int = 6, n_boot: int = 1000
) -> str:
    """The whole report as one HTML string."""
    statuses = compare.statuses(root=root)
    names = [n for n, s in statuses.items() if s.ready]
    not_ready = [f"{_title(n)}: {s.state}" for n, s in statuses.items() if not s.ready]
    data = {}
    for name in names:
        art = artifacts.Artifact(name, root)
        data[name] = {"metrics": art.metrics(), "config": art.config(), "preds": art.predictions()}
    body = [
        "<h1>CIFAR-10 CNN studio: report</h1>",
        f"<p class='muted'>{time.strftime('%Y-%m-%d %H:%M %Z')}. Every number was measured on "
        f"the test set of {_esc(compare.dataset_label(names, root))} and comes from a "
        "<code>core</code> command that anyone can rerun.</p>",
    ]
    if not_ready:
        body.append(f"<p class='muted'>Not included: {_esc('; '.join(not_ready))}.</p>")
    if not names:
        body.append("<p>No model is trained yet.</p>")
    else:
        body += [
            _models_section(names, data, n_boot),
            _agreement_section(names, data),
            _reference_section(names, data),
            _confusion_section(names, data),
            _calibration_section(names, data, root),
            _abstain_section(names, data, root),
            _embedding_section(names, data, root),
            _robustness_section(names, root),
            _unfamiliar_section(names, root),
            _gradcam_section(names, root, n_examples) if n_examples else "",
            _cards_section(names, data, root),
        ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>CIFAR-10 CNN studio: report</title>"
        f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def write_report(
    out: str | os.PathLike = DEFAULT_OUT,
    root: str | os.PathLike | None = None,
    n_examples: int = 6,
    n_boot: int = 1000,
) -> Path:
    """``build_report`` written to ``out`` atomically (a temp file beside it, then renamed)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = build_report(root, n_examples, n_boot)
    atomic.write_text(out, text)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output file (default {DEFAULT_OUT})")
    parser.add_argument("--examples", type=int, default=6, help="test images with Grad-CAM")
    parser.add_argument("--artifacts", help="artifacts folder (default: artifacts/)")
    parser.add_argument(
        "--pptx",
        metavar="FILE",
        help="write the slide deck (core.reporting.slides) here, not the HTML",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own log lines"
    )
    args = parser.parse_args(argv)
    started = time.time()
    if args.pptx:
        from core.reporting import slides

        deck = slides.write_deck(args.pptx, args.artifacts, args.examples)
        print(f"{deck}: {deck.stat().st_size / 1e6:.1f} MB ({time.time() - started:.0f} s)")
        return 0
    out = write_report(args.out, args.artifacts, args.examples)
    print(
        f"{out}: {out.stat().st_size / 1e6:.1f} MB, self-contained ({time.time() - started:.0f} s)"
    )
    return 0
