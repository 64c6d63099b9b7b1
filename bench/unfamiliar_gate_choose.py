"""Choose the unfamiliar-image gate's rule on the choosing set and CIFAR-10 validation images;
then, once, measure it on the CIFAR-10 test split. Writes ``artifacts/unfamiliar/gate.json``.

    python bench/unfamiliar_gate_probs.py --data PATH --out probs.npz   # first
    python bench/unfamiliar_gate_choose.py probs.npz --dry-run          # the candidates
    python bench/unfamiliar_gate_probs.py --data PATH --out test.npz --test
    python bench/unfamiliar_gate_choose.py probs.npz --test test.npz [--latency-s 0.03]

Candidates: the probability on CIFAR-10-like ImageNet classes (``member`` classes only, or
with their ``relative`` classes), alone or OR-ed with the CIFAR-10 model's own score
(``core.analysis.ood``) at a stricter threshold. Each candidate's thresholds are set so that
``FALSE_ALARMS`` of the validation images are flagged; the one that flags most of the choosing
set (then the most faces) is kept. The test split is read only after the choice, for the record.
"""

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from core.analysis import imagenet_gate  # noqa: E402
from core.analysis.ood import auroc  # noqa: E402
from core.data.cifar10 import CLASS_NAMES  # noqa: E402
from core.io.atomic import write_json  # noqa: E402

FALSE_ALARMS = 0.04  # on validation: under the 5 % the test split may show, with room
GATE_SHARES = (0.02, 0.025, 0.03, 0.035, 0.04)  # of FALSE_ALARMS' validation images, the gate's
ATTRACTOR_SHARES = (None, 0.02, 0.01)  # classes that top this share of validation: CIFAR-like


def _rates(flags: np.ndarray, groups: np.ndarray, names) -> dict[str, float]:
    return {str(n): round(float(flags[groups == g].mean()), 4) for g, n in names}


def _below(values: np.ndarray, share: float) -> float:
    """The threshold under which ``share`` of ``values`` fall (midway between two values)."""
    ordered = np.sort(values)
    k = int(np.floor(share * len(ordered)))
    return float((ordered[k - 1] + ordered[k]) / 2) if k > 0 else float(ordered[0])


def candidates(d: dict, present_model: str) -> list[dict]:
    """Every rule tried, each with thresholds that flag FALSE_ALARMS of validation."""
    out = []
    for relations in (("member",), imagenet_gate.RELATIONS):
        base = imagenet_gate.cifar_like(relations)
        for share in ATTRACTOR_SHARES:
            extra = () if share is None else imagenet_gate.attractors(d["val"], base, share)
            for statistic in imagenet_gate.STATISTICS:
                gate = imagenet_gate.Gate(
                    "lite0", 224, relations, statistic, tuple(int(i) for i in extra),
                    0.0, None, None, {},
                )  # fmt: skip
                l_val, l_choose = gate.likeness(d["val"]), gate.likeness(d["choose"])
                for gate_share in GATE_SHARES:
                    threshold = _below(l_val, gate_share)
                    by_gate = l_val < threshold
                    present_t = None
                    if gate_share < FALSE_ALARMS:  # the rest of the budget: the own score
                        rest = d["val_present"][~by_gate]
                        k = int(round((FALSE_ALARMS - by_gate.mean()) * len(l_val)))
                        present_t = float(np.sort(rest)[::-1][k]) if k > 0 else None
                    rule = replace(
                        gate,
                        threshold=threshold,
                        present_threshold=present_t,
                        present_model=present_model if present_t is not None else None,
                    )
                    flag_val = rule.flags(l_val, d["val_present"])
                    flag_choose = rule.flags(l_choose, d["choose_present"])
                    out.append(
                        {
                            "rule": rule,
                            "val_flagged": float(flag_val.mean()),
                            "choose_flagged": float(flag_choose.mean()),
                            "faces_flagged": float(flag_choose[d["choose_kinds"] == "face"].mean()),
                            "auroc_likeness": auroc(-l_val, -l_choose),
                        }
                    )
    return out


def _describe(rule: imagenet_gate.Gate) -> dict:
    return {
        "gate": rule.model,
        "size": rule.size,
        "relations": list(rule.relations),
        "statistic": rule.statistic,
        "extra": list(rule.extra),
        "threshold": rule.threshold,
        "present_threshold": rule.present_threshold,
        "present_model": rule.present_model,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("probs")
    parser.add_argument("--gate", default="lite0")
    parser.add_argument("--size", type=int, default=imagenet_gate.SIZE)
    parser.add_argument("--latency-s", type=float, help="measured added seconds per upload")
    parser.add_argument("--artifacts", help="artifacts folder (default: artifacts/)")
    parser.add_argument("--test", help="the test split's probabilities, read after the choice")
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    args = parser.parse_args()
    d = dict(np.load(args.probs))
    tried = candidates(d, str(d["present_model"]))
    for c in tried:
        r = c["rule"]
        print(
            f"{'+'.join(r.relations):16} +{len(r.extra)} {r.statistic:3} own "
            f"{'-' if r.present_threshold is None else 'yes'}: validation "
            f"{c['val_flagged']:.1%}, choosing set {c['choose_flagged']:.1%} "
            f"(faces {c['faces_flagged']:.1%}), AUROC {c['auroc_likeness']:.3f}"
        )
    best = max(tried, key=lambda c: (c["choose_flagged"], c["faces_flagged"]))
    gate = replace(best["rule"], model=args.gate, size=args.size)
    rule = _describe(gate)
    from imagenet_cifar10_map import labels  # the class names, from the ResNet50 archive

    names = labels()
    rule["extra_names"] = [names[i] for i in gate.extra]
    kinds = d["choose_kinds"]
    l_choose, l_val = gate.likeness(d["choose"]), gate.likeness(d["val"])
    flag_choose = gate.flags(l_choose, d["choose_present"])
    flag_val = gate.flags(l_val, d["val_present"])
    classes = list(enumerate(CLASS_NAMES))
    info = {
        "what": "the unfamiliar-image flag: EfficientNet-Lite0's ImageNet probability on "
        "CIFAR-10-like classes (statistic: max, the top one; sum, all of them; extra: classes "
        "that blown-up 32x32 validation images are most often taken for), OR the CIFAR-10 "
        "model's own score (core.analysis.imagenet_gate)",
        "rule": rule,
        "chosen_on": {
            "choosing_set": "bench/unfamiliar_choosing.py: drawn and photographed faces, text, "
            "shapes, textures, other photos (100 of each)",
            "validation": f"{len(d['y_val'])} CIFAR-10 validation images (seed 0, 10 % held out)",
            "false_alarm_target": FALSE_ALARMS,
            "how": "thresholds set so that the target share of validation images is flagged; "
            "the candidate flagging most of the choosing set kept",
            "candidates": [
                {k: v for k, v in c.items() if k != "rule"} | _describe(c["rule"]) for c in tried
            ],
        },
        "choosing_set": {
            "flagged": round(float(flag_choose.mean()), 4),
            "per_kind": {
                k: round(float(flag_choose[kinds == k].mean()), 4) for k in dict.fromkeys(kinds)
            },
            "auroc": round(auroc(-l_val, -l_choose), 4),
        },
        "validation": {
            "flagged": round(float(flag_val.mean()), 4),
            "per_class": _rates(flag_val, d["y_val"], classes),
        },
        "commands": [
            "python bench/unfamiliar_gate_probs.py --data PATH --out probs.npz",
            "python bench/unfamiliar_gate_probs.py --data PATH --out test.npz --test",
            "python bench/unfamiliar_gate_choose.py probs.npz --test test.npz",
        ],
        "written": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    if args.test:  # measured once, after the choice
        d |= dict(np.load(args.test))
        l_test = gate.likeness(d["test"])
        flag_test = gate.flags(l_test, d["test_present"])
        info["test"] = {
            "flagged": round(float(flag_test.mean()), 4),
            "per_class": _rates(flag_test, d["y_test"], classes),
            "auroc_vs_choosing_set": round(auroc(-l_test, -l_choose), 4),
            "n": int(len(l_test)),
        }
    if args.latency_s is not None:
        info["latency_s"] = args.latency_s
    print(
        f"kept {rule}: choosing set {info['choosing_set']['per_kind']}, validation "
        f"{info['validation']['flagged']:.1%}"
        + (f", test {info['test']['flagged']:.1%}" if "test" in info else "")
    )
    if not args.dry_run:
        target = imagenet_gate.gate_dir(args.artifacts) / imagenet_gate.GATE_JSON
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json(target, info)
        print(f"wrote {target.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
