"""Bootstrap intervals and McNemar's exact test (core.analysis.stats)."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from core.analysis import stats


def _answers(n: int, accuracy: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 10, n)
    wrong = (y_true + rng.integers(1, 10, n)) % 10
    y_pred = np.where(rng.random(n) < accuracy, y_true, wrong)
    return y_true, y_pred


def test_mcnemar_on_identical_predictions_gives_p_one():
    y_true, y_pred = _answers(2000, 0.8)
    test = stats.mcnemar(y_true, y_pred, y_pred.copy())
    assert test.p_value == 1.0
    right = int((y_pred == y_true).sum())
    assert test.table == ((right, 0), (0, 2000 - right))
    assert "p = 1" in test.sentence("Model 1", "Model 2")


def test_mcnemar_finds_a_real_difference_and_names_the_better_model():
    y_true, weak = _answers(5000, 0.80, seed=1)
    strong = np.where(np.random.default_rng(2).random(5000) < 0.5, y_true, weak)  # fixes half
    test = stats.mcnemar(y_true, np.eye(10)[weak], strong)  # probabilities or labels
    assert test.only_a_right == 0 and test.only_b_right > 400
    assert test.p_value < 1e-20
    sentence = test.sentence("Model 1", "Model 2")
    assert sentence.startswith("Model 2 is better than Model 1 on this test set")
    assert "by chance with probability p = " in sentence
    assert test.n == 5000


def test_mcnemar_p_value_is_the_exact_binomial_one():
    y_true = np.zeros(30, dtype=int)
    a = np.array([0] * 12 + [1] * 18)  # right on the first 12
    b = np.array([1] * 4 + [0] * 26)  # wrong on the first 4
    test = stats.mcnemar(y_true, a, b)
    # discordant: a right & b wrong = 4, a wrong & b right = 18 -> two-sided binomial(4; 22)
    assert test.table == ((8, 4), (18, 0))
    assert test.p_value == pytest.approx(0.0043, abs=1e-4)
    assert "so it may well be luck" not in test.sentence()


def test_macro_f1_matches_scikit_learn_even_for_a_class_never_predicted():
    y_true, y_pred = _answers(3000, 0.7)
    y_pred[y_pred == 3] = 4
    expected = f1_score(y_true, y_pred, labels=range(10), average="macro", zero_division=0)
    assert stats.f1_macro(y_true, y_pred) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("metric", ["accuracy", "f1_macro"])
def test_bootstrap_interval_contains_the_estimate_and_shrinks_with_n(metric):
    widths = []
    for n in (400, 10_000):
        y_true, y_pred = _answers(n, 0.85, seed=n)
        point = (
            accuracy_score(y_true, y_pred)
            if metric == "accuracy"
            else f1_score(y_true, y_pred, average="macro")
        )
        low, high = stats.bootstrap_interval(y_true, y_pred, metric, n_boot=500, seed=0)
        assert low < point < high
        widths.append(high - low)
    # the width falls like 1/sqrt(n): 5 times narrower for 25 times the images
    assert widths[1] < widths[0] / 3


def test_bootstrap_is_seeded_and_headline_intervals_cover_both_numbers():
    y_true, y_pred = _answers(1000, 0.9)
    probs = np.eye(10)[y_pred]
    first = stats.headline_intervals(y_true, probs, n_boot=200, seed=0)
    assert first == stats.headline_intervals(y_true, probs, n_boot=200, seed=0)
    assert first != stats.headline_intervals(y_true, probs, n_boot=200, seed=1)
    assert set(first) == {"accuracy", "f1_macro"}
    assert stats.format_interval(0.9, first["accuracy"]).startswith("0.9000 [0.8")


def test_the_reference_claim_is_checked_against_measured_accuracy():
    from core.analysis.reference import check_claim

    titles = {"resnet50_transfer": "ResNet50", "vgg16_transfer": "VGG16", "vgg12": "Model 1"}
    held = check_claim({"resnet50_transfer": 0.93, "vgg16_transfer": 0.9, "vgg12": 0.8}, titles)
    assert "It holds here: ResNet50 transfer is best at 93.0%, 3.0 points ahead of VGG16" in held
    assert "VGG16 transfer (90.0%) is below ResNet50, as the reference found" in held
    broken = check_claim({"resnet50_transfer": 0.85, "vgg16_transfer": 0.9, "vgg12": 0.8}, titles)
    assert "It does not hold here: ResNet50 transfer (85.0%) ranks 2 of 3, behind VGG16" in broken
    assert "unlike the reference" in broken
    assert "not checked" in check_claim({"vgg12": 0.8}, titles)


def test_p_values_read_as_people_write_them():
    from core.analysis.stats import McNemar, format_p

    assert format_p(0.0312) == "p = 0.031" and format_p(2.4e-5) == "p = 2.4e-05"
    assert format_p(0.0) == "p < 1e-300"
    sentence = McNemar(((10, 900), (0, 90)), 0.0).sentence("A", "B")
    assert "p < 1e-300" in sentence and "p = <" not in sentence
