"""What the CCS levers (bench/ccs_graph_lever.py, bench/ccs_trees_lever.py) share: the shipped
predictor and the ions it is trained and tested on, and how a lever is averaged with it (in log
space, the lever's share chosen on validation ions only) and reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.ccs import CcsPredictor, load_predictor
from models.ccs_adducts import adduct_key
from models.ccs_train import error_summary, relative_errors
from molvis.workflows.ccs_prediction import PRETRAINED, training_split
from registry.db.connection import get_engine

SHIPPED = PRETRAINED / "molvis-ccs.pt"  # the file load_shipped() reads
WEIGHTS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)  # the lever's share of log CCS


def shipped_and_parts(path: Path) -> tuple[CcsPredictor, dict[str, list]]:
    """The predictor at `path` and the registry's measured ions (MOLVIS_HOME) split as
    `molvis ccs train` splits them, of the adducts that predictor knows."""
    shipped, _ = load_predictor(path)
    _, parts, _ = training_split(get_engine(), shipped.config.min_adduct_ions)
    known = {adduct_key(a) for a in shipped.config.adducts}
    return shipped, {
        p: [r for r in rows if adduct_key(r.adduct) in known] for p, rows in parts.items()
    }


def errors(d: dict, lever_log: np.ndarray, weight: float) -> dict:
    """Relative errors of the two averaged in log space, `weight` the lever's share: over all
    of a split's ions and its drift-tube + unknown ones (`d`: measured `ccs`, the `shipped`
    predictor's log CCS and the `dt_unknown` mask)."""
    log_ccs = weight * lever_log + (1 - weight) * d["shipped"]
    e = relative_errors(np.exp(log_ccs), d["ccs"])
    return {"all": error_summary(e), "dt_unknown": error_summary(e[d["dt_unknown"]])}


def chosen_share(val: dict, lever_log: np.ndarray) -> tuple[dict[float, float], float]:
    """The validation median of each share in WEIGHTS, and the share with the lowest."""
    by_weight = {w: errors(val, lever_log, w)["all"]["median_pct"] for w in WEIGHTS}
    return by_weight, min(WEIGHTS, key=lambda w: by_weight[w])
