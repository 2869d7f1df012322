"""The held-out test of an open-world calibration: each query's hits searched in a world
(its compound `present` in the registry, or `absent` from it), weighted as the calibration's
coverage prior weighs that world; expected calibration error over all hits and over rank-1
hits, each world's mean top-hit probability beside its top-hit rate, and the false discovery
rate of top hits at each threshold and of confident library matches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from models.calibration import Calibration, HitEvidence, false_discoveries, reliability


class HeldOutCheck:
    """The held-out test of a calibration: each query's hits in a world, weighted as the
    calibration's coverage prior weighs that world."""

    def __init__(self, calibration: Calibration, thresholds: Sequence[float]):
        self.calibration = calibration
        self.thresholds = tuple(thresholds)
        self.items: dict[str, list[tuple[list[float], list[bool], list[bool]]]] = {
            "present": [],
            "absent": [],
        }

    def add(self, world: str, numbers: list[HitEvidence], correct: list[bool]) -> None:
        if numbers:
            probabilities = self.calibration.probabilities(numbers)
            confident = [n.library_confident for n in numbers]
            self.items[world].append((probabilities, correct, confident))

    def _weight(self, world: str) -> float:
        c = self.calibration.coverage
        return c if world == "present" else 1 - c

    def _flat(self, top_only: bool) -> tuple[list[float], list[bool], list[float]]:
        p, y, w = [], [], []
        for world, queries in self.items.items():
            for probs, correct, _ in queries:
                cut = 1 if top_only else len(probs)
                p += probs[:cut]
                y += correct[:cut]
                w += [self._weight(world)] * cut
        return p, y, w

    def report(self) -> dict[str, Any]:
        """ECE (all hits, rank-1 hits) with their bins, calibration in the large over the mix,
        each world's mean top-hit probability and hit rate, false discovery rates, and the
        calibration's prior, data and coefficients."""
        calibration = self.calibration
        p, y, w = self._flat(False)
        tp, ty, tw = self._flat(True)
        ece, bins = reliability(p, y, weights=w)
        top_ece, top_bins = reliability(tp, ty, weights=tw)
        worlds = {}
        for world, queries in self.items.items():
            worlds[world] = {
                "queries": len(queries),
                "mean_top_probability": float(np.mean([q[0][0] for q in queries]))
                if queries
                else None,
                "top_hit_rate": float(np.mean([q[1][0] for q in queries])) if queries else None,
            }
        confident = [
            (q[1][0], self._weight(world))
            for world, queries in self.items.items()
            for q in queries
            if q[2][0]
        ]
        mass = sum(c[1] for c in confident)
        return {
            "coverage": calibration.coverage,
            "ece_all_hits": ece,
            "ece_top1": top_ece,
            # calibration in the large: over the mix, the mean top-hit probability and how
            # often the top hit is right
            "mix": {
                "mean_top_probability": float(np.average(tp, weights=tw)) if tp else None,
                "top_hit_rate": float(np.average(ty, weights=tw)) if tp else None,
            },
            "worlds": worlds,
            "fdr": false_discoveries(tp, ty, self.thresholds, tw),
            "fdr_library_confident": {
                "reported": mass / sum(tw) if tw else 0.0,
                "fdr": sum(wt for right, wt in confident if not right) / mass if mass else None,
            },
            "bins": bins,
            "top1_bins": top_bins,
            "fitted_on": calibration.fitted_on,
            "coef": {
                part: dict(zip(calibration.features, model.coef, strict=True))
                | {"intercept": model.intercept}
                for part, model in (("top", calibration.top), ("rest", calibration.rest))
            },
        }
