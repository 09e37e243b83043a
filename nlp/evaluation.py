"""Figures on a labelled set the model never saw: F1, length bands, calibration, asking.

The bot asks the author to pick when the confidence is below `nlp.confidence_threshold`
and offers the three likeliest categories; these figures say how often that happens, how
often the answers given without asking are right, and how often the question holds the
right category.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nlp.classifier import UNKNOWN_CONFIDENCE, Prediction
from nlp.training import Report

BANDS: tuple[tuple[str, int, int], ...] = (
    ("≤12", 0, 12),
    ("13–120", 13, 120),
    (">120", 121, 1 << 30),
)
"""Length bands in characters of the text as written."""
TARGET_ACCURACY = 0.95
"""What the answers given without asking must reach when the threshold is chosen: the lower
end of the 95 % Wilson interval of their accuracy on the development set, not the point
figure, because that set also chose the features and is written in the same style as the
training data (unseen messages will do somewhat worse)."""
Z_95 = 1.959964
BINS = 10


@dataclass(frozen=True, slots=True)
class Scored:
    truth: str
    text: str
    prediction: Prediction

    @property
    def right(self) -> bool:
        return self.prediction.category == self.truth

    @property
    def in_top3(self) -> bool:
        return self.truth in [c for c, _ in self.prediction.ranking[:3]]


def score(classify: Callable[[str], Prediction], rows: Sequence[tuple[str, str]]) -> list[Scored]:
    return [Scored(label, text, classify(text)) for label, text in rows]


@dataclass(frozen=True, slots=True)
class Asking:
    threshold: float
    asked: float
    """Share of messages below the threshold (the bot asks)."""
    answered_accuracy: float
    """Share right among the messages at or above it (answered without asking)."""
    top3_of_asked: float
    """Share of asked messages whose right category is among the three offered."""
    answered_lower: float = 1.0
    """Lower end of the 95 % Wilson interval of `answered_accuracy`."""

    @classmethod
    def at(cls, scored: Sequence[Scored], threshold: float) -> Asking:
        asked = [s for s in scored if s.prediction.confidence < threshold]
        answered = [s for s in scored if s.prediction.confidence >= threshold]
        right = sum(s.right for s in answered)
        return cls(
            threshold,
            len(asked) / max(len(scored), 1),
            right / len(answered) if answered else 1.0,
            sum(s.in_top3 for s in asked) / len(asked) if asked else 1.0,
            wilson_lower(right, len(answered)),
        )

    def render(self) -> str:
        return (
            f"threshold {self.threshold:.2f}: asked {self.asked:.1%},"
            f" answered accuracy {self.answered_accuracy:.3f}"
            f" (95 % lower bound {self.answered_lower:.3f}),"
            f" right one among the three offered {self.top3_of_asked:.1%} of asked"
        )


def wilson_lower(successes: int, n: int, z: float = Z_95) -> float:
    """The lower end of the Wilson score interval for `successes` out of `n`."""
    if n == 0:
        return 1.0
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def choose_threshold(
    scored: Sequence[Scored], target: float = TARGET_ACCURACY, step: float = 0.01
) -> float:
    """The smallest threshold on a grid of `step` whose answered messages reach `target`
    at the lower end of their 95 % interval.

    The grid starts just above the confidence of text with nothing to classify (emoji,
    digits, English), so that such text is always asked about, however good the model.
    """
    first = math.floor(UNKNOWN_CONFIDENCE / step + 1e-9) + 1
    for k in range(first, round(1 / step) + 1):
        threshold = round(k * step, 6)
        if Asking.at(scored, threshold).answered_lower >= target:
            return threshold
    return 1.0


@dataclass(frozen=True, slots=True)
class Calibration:
    rows: tuple[tuple[float, float, int, float, float], ...]
    """(from, to, messages, mean confidence, accuracy) per confidence bin with messages."""
    ece: float
    """Expected calibration error: the message-weighted mean |accuracy - confidence|."""

    @classmethod
    def of(cls, scored: Sequence[Scored], bins: int = BINS) -> Calibration:
        conf = np.asarray([s.prediction.confidence for s in scored], dtype=np.float64)
        right = np.asarray([s.right for s in scored], dtype=np.float64)
        which = np.minimum((conf * bins).astype(np.int64), bins - 1)
        rows = []
        ece = 0.0
        for b in range(bins):
            members = which == b
            n = int(members.sum())
            if not n:
                continue
            mean_conf, accuracy = float(conf[members].mean()), float(right[members].mean())
            ece += n / len(scored) * abs(accuracy - mean_conf)
            rows.append((b / bins, (b + 1) / bins, n, mean_conf, accuracy))
        return cls(tuple(rows), ece)

    def render(self) -> str:
        lines = [
            f"calibration (ECE {self.ece:.3f})",
            f"{'confidence':<14}{'messages':>9}{'mean conf':>11}{'accuracy':>10}",
        ]
        for lo, hi, n, mean_conf, accuracy in self.rows:
            lines.append(f"{lo:.1f}–{hi:.1f}{'':<7}{n:>9}{mean_conf:>11.3f}{accuracy:>10.3f}")
        return "\n".join(lines)


def report(categories: tuple[str, ...], scored: Sequence[Scored], title: str) -> Report:
    index = {c: i for i, c in enumerate(categories)}
    truth = np.asarray([index[s.truth] for s in scored], dtype=np.int64)
    predicted = np.asarray([index[s.prediction.category] for s in scored], dtype=np.int64)
    return Report.of(categories, truth, predicted, 0, title=title)


def present_macro_f1(r: Report) -> float:
    """Macro-F1 over the categories the set holds (a band may lack some)."""
    present = [f1 for _, _, f1, n in r.per_class.values() if n]
    return sum(present) / max(len(present), 1)


@dataclass(frozen=True)
class Evaluation:
    overall: Report
    bands: tuple[tuple[str, Report], ...]
    calibration: Calibration
    configured: Asking
    chosen: Asking
    """At the smallest threshold reaching TARGET_ACCURACY on this set."""

    @classmethod
    def of(
        cls,
        categories: tuple[str, ...],
        scored: Sequence[Scored],
        threshold: float,
        title: str,
    ) -> Evaluation:
        bands = []
        for name, lo, hi in BANDS:
            members = [s for s in scored if lo <= len(s.text) <= hi]
            if members:
                bands.append((name, report(categories, members, name)))
        return cls(
            report(categories, scored, title),
            tuple(bands),
            Calibration.of(scored),
            Asking.at(scored, threshold),
            Asking.at(scored, choose_threshold(scored)),
        )

    def render(self) -> str:
        lines = [self.overall.render(), "", "by length (characters)"]
        lines.append(f"{'band':<10}{'messages':>9}{'accuracy':>10}{'macro-F1':>10}")
        for name, r in self.bands:
            n = sum(map(sum, r.confusion))
            lines.append(f"{name:<10}{n:>9}{r.accuracy:>10.3f}{present_macro_f1(r):>10.3f}")
        lines += ["", self.calibration.render(), ""]
        lines.append("asking when unsure (the bot offers the three likeliest)")
        lines.append(f"  configured {self.configured.render()}")
        lines.append(
            f"  smallest threshold with answered accuracy ≥ {TARGET_ACCURACY:.2f} (lower bound):"
            f" {self.chosen.render()}"
        )
        return "\n".join(lines)
