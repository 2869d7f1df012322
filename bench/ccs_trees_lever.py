"""CCS lever (issue 37): do gradient-boosted trees pay beside the shipped predictor? A
different learner on the same columns errs elsewhere, as the graph network did
(bench/ccs_graph_lever.py), without a graph to featurise. scikit-learn's
HistGradientBoostingRegressor (L1 loss, as the shipped predictor learns) reads the shipped
predictor's columns of an ion (structure and ion columns, or with `--structure-only` the
structure's alone) and learns the residual of its per-adduct power law on the training ions
(the structure split `molvis ccs train` uses), a fixed number of trees; then alone and averaged
in log space with the shipped predictor, the trees' share chosen on validation ions only
(bench/ccs_levers.py, as for every CCS lever). Test ions: all, and drift-tube + unknown
methods (the CCS issue's targets); plus each one's cost an ion at prediction. Reads the
registry named by MOLVIS_HOME; the shipped predictor must have been trained on it (`make
demo`)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingRegressor

from bench.ccs_levers import SHIPPED, chosen_share, errors, shipped_and_parts
from bench.common import write_result
from models.ccs import CcsPredictor, featurize
from molvis.workflows.ccs_prediction import measured_ions


def columns(model: CcsPredictor, rows: list, structure_only: bool) -> tuple[np.ndarray, dict]:
    """The trees' input of each ion (its structure's columns, standardised as the shipped
    predictor reads them, then its ion columns unless `structure_only`) and the split's data
    for the shared report: the power law, measured CCS and the shipped predictor's log CCS."""
    inputs = featurize(measured_ions(rows), model.config)
    with torch.no_grad():
        structure = model.standardised(inputs.structure)[inputs.row]
        base = model.baseline(inputs).numpy()
    x = structure if structure_only else torch.cat([structure, inputs.ion], 1)
    return x.numpy().astype(np.float32), {
        "base": base,
        "ccs": np.array([r.ccs for r in rows]),
        "shipped": np.log(model.predict(inputs)),
        "dt_unknown": np.array([r.method in ("DT", "unknown") for r in rows]),
    }


def cost_ms(
    trees: HistGradientBoostingRegressor, model: CcsPredictor, rows: list, structure_only: bool
) -> dict:
    """Milliseconds an ion: the shipped predictor from SMILES (featurise and predict), and the
    trees' prediction alone on columns built beforehand (what they would add; scikit-learn
    runs it on every core)."""
    started = time.perf_counter()
    model.predict(featurize(measured_ions(rows), model.config))
    alone = time.perf_counter() - started
    x, _ = columns(model, rows, structure_only)
    started = time.perf_counter()
    trees.predict(x)
    added = time.perf_counter() - started
    return {
        "shipped_ms": round(1000 * alone / len(rows), 3),
        "trees_ms": round(1000 * added / len(rows), 4),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trees", type=int, default=300, help="boosting iterations")
    parser.add_argument("--learning-rate", type=float, default=0.3)
    parser.add_argument("--leaves", type=int, default=63, help="leaves a tree at most")
    parser.add_argument("--structure-only", action="store_true", help="no ion columns")
    parser.add_argument("--predictor", type=Path, default=SHIPPED)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    shipped, parts = shipped_and_parts(args.predictor)
    data = {p: columns(shipped, rows, args.structure_only) for p, rows in parts.items()}
    trees = HistGradientBoostingRegressor(
        loss="absolute_error",
        learning_rate=args.learning_rate,
        max_iter=args.trees,
        max_leaf_nodes=args.leaves,
        min_samples_leaf=10,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=0,
        verbose=1,  # a line a tree, to stderr: 3,000 trees take ~20 min on two cores
    )
    started = time.perf_counter()
    x, train = data["train"]
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the result's JSON
        trees.fit(x, np.log(train["ccs"]) - train["base"])
    fit_seconds = round(time.perf_counter() - started)
    print(f"trees fitted in {fit_seconds} s", file=sys.stderr, flush=True)
    log_ccs = {p: trees.predict(data[p][0]) + data[p][1]["base"] for p in ("val", "test")}
    val, test = data["val"][1], data["test"][1]
    by_weight, weight = chosen_share(val, log_ccs["val"])
    write_result(
        "ccs_trees_lever",
        {
            "ions": {p: len(rows) for p, rows in parts.items()},
            "trees": args.trees,
            "learning_rate": args.learning_rate,
            "leaves": args.leaves,
            "structure_only": args.structure_only,
            "fit_seconds": fit_seconds,
            "val_median_by_weight": by_weight,
            "weight": weight,
            "test": {
                "shipped": errors(test, log_ccs["test"], 0.0),
                "trees": errors(test, log_ccs["test"], 1.0),
                "averaged": errors(test, log_ccs["test"], weight),
            },
            "cost": cost_ms(trees, shipped, parts["test"][:3000], args.structure_only),
        },
        args.output,
    )


if __name__ == "__main__":
    main()
