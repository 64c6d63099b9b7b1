"""The mistakes gallery's filters and the possibly-mislabelled view (core.analysis.mistakes)."""

import numpy as np

from core.analysis.mistakes import confident_mistakes, possibly_mislabelled
from core.data.cifar10 import CLASS_NAMES


def _probs(picks, confidence):
    probs = np.full((len(picks), 10), 0.0)
    for i, (k, c) in enumerate(zip(picks, confidence, strict=True)):
        probs[i] = (1 - c) / 9
        probs[i, k] = c
    return probs


Y = np.array([0, 0, 1, 2, 3, 3])
A = _probs([0, 5, 2, 4, 5, 3], [0.9, 0.99, 0.6, 0.95, 0.97, 0.5])
B = _probs([0, 5, 1, 4, 5, 4], [0.8, 0.92, 0.7, 0.5, 0.96, 0.6])


def test_confident_mistakes_are_wrong_sorted_and_filtered():
    table = confident_mistakes(Y, {"a": A, "b": B}, "a")
    assert list(table["row"]) == [1, 4, 3, 2]  # every wrong answer, most confident first
    assert list(table["a confidence"]) == sorted(table["a confidence"], reverse=True)
    assert list(table["b"]) == [CLASS_NAMES[5], CLASS_NAMES[5], CLASS_NAMES[4], CLASS_NAMES[1]]
    assert list(confident_mistakes(Y, {"a": A}, "a", true_class=3)["row"]) == [4]
    assert list(confident_mistakes(Y, {"a": A}, "a", predicted_class=5)["row"]) == [1, 4]
    assert list(confident_mistakes(Y, {"a": A}, "a", max_confidence=0.96)["row"]) == [3, 2]
    assert list(confident_mistakes(Y, {"a": A}, "a", min_confidence=0.96)["row"]) == [1, 4]


def test_possibly_mislabelled_needs_every_model_to_agree_confidently_against_the_label():
    table = possibly_mislabelled(Y, {"a": A, "b": B}, min_confidence=0.9)
    assert list(table["row"]) == [4, 1]  # row 3: b is unsure; row 2: they disagree
    assert list(table["agreed answer"]) == [CLASS_NAMES[5]] * 2
    assert list(table["lowest confidence"]) == [0.96, 0.92]
    assert list(possibly_mislabelled(Y, {"a": A, "b": B}, min_confidence=0.5)["row"]) == [4, 1, 3]
