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
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.analysis import imagenet_gate  # noqa: E402
from core.analysis.ood import auroc  # noqa: E402
from core.data.cifar10 import CLASS_NAMES  # noqa: E402
from core.io.atomic import write_json  # noqa: E402

FALSE_ALARMS = 0.04  # on validation: under the 5 % the test split may show, with room
PRESENT_PASS = (None, 0.99, 0.995, 0.998)  # the own score's share of validation passing


def _rates(flags: np.ndarray, groups: np.ndarray, names) -> dict[str, float]:
    return {str(n): round(float(flags[groups == g].mean()), 4) for g, n in names}


def candidates(d: dict) -> list[dict]:
    out = []
    for relations in (("member",), imagenet_gate.RELATIONS):
        idx = imagenet_gate.cifar_like(relations)
        m_val, m_choose = imagenet_gate.mass(d["val"], idx), imagenet_gate.mass(d["choose"], idx)
        for keep in PRESENT_PASS:
            present_t = None if keep is None else float(np.quantile(d["val_present"], keep))
            present_val = (
                np.zeros(len(m_val), bool) if keep is None else d["val_present"] > present_t
            )
            # the mass threshold that brings the union to FALSE_ALARMS on validation
            allowed = max(0.0, FALSE_ALARMS - present_val.mean())
            pool = np.sort(m_val[~present_val])
            k = int(np.floor(allowed * len(m_val)))
            mass_t = float(pool[k - 1] + 1e-9) if k > 0 else float(pool[0] - 1e-9)
            if k > 0:
                mass_t = float((pool[k - 1] + pool[k]) / 2)
            flag_val = (m_val < mass_t) | present_val
            flag_choose = m_choose < mass_t
            if keep is not None:
                flag_choose |= d["choose_present"] > present_t
            out.append(
                {
                    "relations": list(relations),
                    "mass_threshold": mass_t,
                    "present_threshold": present_t,
                    "present_pass": keep,
                    "val_flagged": float(flag_val.mean()),
                    "choose_flagged": float(flag_choose.mean()),
                    "faces_flagged": float(flag_choose[d["choose_kinds"] == "face"].mean()),
                    "auroc_mass": auroc(-m_val, -m_choose),
                }
            )
    return out


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
    tried = candidates(d)
    for c in tried:
        print(
            f"{'+'.join(c['relations']):16} own score kept at {c['present_pass']}: validation "
            f"{c['val_flagged']:.1%}, choosing set {c['choose_flagged']:.1%} "
            f"(faces {c['faces_flagged']:.1%}), AUROC of the mass {c['auroc_mass']:.3f}"
        )
    best = max(tried, key=lambda c: (c["choose_flagged"], c["faces_flagged"]))
    rule = {
        "gate": args.gate,
        "size": args.size,
        "relations": best["relations"],
        "mass_threshold": best["mass_threshold"],
        "present_threshold": best["present_threshold"],
        "present_model": str(d["present_model"]) if best["present_threshold"] else None,
    }
    gate = imagenet_gate.Gate(
        args.gate,
        args.size,
        tuple(best["relations"]),
        best["mass_threshold"],
        best["present_threshold"],
        rule["present_model"],
        {},
    )
    idx = gate.indices()
    kinds = d["choose_kinds"]
    flag_choose = gate.flags(imagenet_gate.mass(d["choose"], idx), d["choose_present"])
    flag_val = gate.flags(imagenet_gate.mass(d["val"], idx), d["val_present"])
    classes = list(enumerate(CLASS_NAMES))
    info = {
        "what": "the unfamiliar-image flag: EfficientNet-Lite0's ImageNet probability on "
        "CIFAR-10-like classes, OR the CIFAR-10 model's own score (core.analysis.imagenet_gate)",
        "rule": rule,
        "chosen_on": {
            "choosing_set": "bench/unfamiliar_choosing.py: drawn and photographed faces, text, "
            "shapes, textures, other photos (100 of each)",
            "validation": f"{len(d['y_val'])} CIFAR-10 validation images (seed 0, 10 % held out)",
            "false_alarm_target": FALSE_ALARMS,
            "how": "thresholds set so that the target share of validation images is flagged; "
            "the candidate flagging most of the choosing set kept",
            "candidates": tried,
        },
        "choosing_set": {
            "flagged": round(float(flag_choose.mean()), 4),
            "per_kind": {
                k: round(float(flag_choose[kinds == k].mean()), 4) for k in dict.fromkeys(kinds)
            },
            "auroc": round(
                auroc(-imagenet_gate.mass(d["val"], idx), -imagenet_gate.mass(d["choose"], idx)), 4
            ),
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
        m_test = imagenet_gate.mass(d["test"], idx)
        flag_test = gate.flags(m_test, d["test_present"])
        info["test"] = {
            "flagged": round(float(flag_test.mean()), 4),
            "per_class": _rates(flag_test, d["y_test"], classes),
            "auroc_vs_choosing_set": round(
                auroc(-m_test, -imagenet_gate.mass(d["choose"], idx)), 4
            ),
            "n": int(len(m_test)),
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
