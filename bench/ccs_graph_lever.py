"""CCS lever (issue 37): does a graph network pay beside the shipped predictor? An AttentiveFP
(models/encoders/attentivefp.py, the structure encoder's modules) reads each structure's graph;
a small head reads its vector with the shipped predictor's ion columns (adduct, method, m/z)
and adds a residual to the shipped predictor's per-adduct power law. Trained by L1 on log CCS
on the registry's training ions (the structure split `molvis ccs train` uses), best epoch by
validation median; then alone and averaged in log space with the shipped predictor, the
weight chosen on validation ions only. Test ions: all, and drift-tube + unknown methods (the
CCS issue's targets); plus each one's cost a molecule at prediction. The shipped predictor
must have been trained on this registry (`make demo`), else its own rows say so. Reads the
registry named by MOLVIS_HOME."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.ccs_levers import SHIPPED, chosen_share, errors, shipped_and_parts
from bench.common import write_result
from models.ccs import featurize
from models.ccs_train import relative_errors
from models.encoders.attentivefp import AttentiveFPGNN, AttentiveFPReadout
from models.molgraph import MolGraph, batch, featurize_all
from molvis.workflows.ccs_prediction import measured_ions

WIDTH = 200


class GraphResidual(nn.Module):
    """log CCS residual of an ion from its structure's AttentiveFP vector and its ion columns."""

    def __init__(self, atom_width: int, bond_width: int, ion_width: int) -> None:
        super().__init__()
        self.gnn = AttentiveFPGNN(atom_width, bond_width, 2, WIDTH, 0.1)
        self.readout = AttentiveFPReadout(WIDTH, 2, 0.1)
        self.head = nn.Sequential(
            nn.Linear(WIDTH + ion_width, 256), nn.GELU(), nn.Dropout(0.1),
            nn.Linear(256, 256), nn.GELU(), nn.Linear(256, 1),
        )  # fmt: skip

    def forward(self, graphs: list, ion: torch.Tensor) -> torch.Tensor:
        g = batch(graphs)
        return self.head(torch.cat([self.readout(g, self.gnn(g)), ion], 1)).squeeze(-1)


def dgllife_graph(smiles: str) -> MolGraph:
    """dgllife's AttentiveFP atom and bond features (39 + 10 columns: chirality, hydrogens,
    bond stereo and more than the report's), as the arrays models/molgraph.py batches."""
    from dgllife.utils import (
        AttentiveFPAtomFeaturizer,
        AttentiveFPBondFeaturizer,
        smiles_to_bigraph,
    )

    g = smiles_to_bigraph(
        smiles,
        node_featurizer=AttentiveFPAtomFeaturizer(atom_data_field="h"),
        edge_featurizer=AttentiveFPBondFeaturizer(bond_data_field="e"),
    )
    src, dst = (x.numpy().astype(np.int64) for x in g.edges())
    return MolGraph(g.ndata["h"].numpy(), g.edata["e"].numpy(), src, dst)


def graphs_of(smiles: list[str], features: str) -> list[MolGraph]:
    """Each row's graph, a structure featurised once however many ions it has."""
    unique = list(dict.fromkeys(smiles))
    if features == "report":
        graphs = featurize_all(unique)
    else:
        graphs = [dgllife_graph(s) for s in unique]
    by_smiles = dict(zip(unique, graphs, strict=True))
    return [by_smiles[s] for s in smiles]


def part_data(rows: list, shipped, features: str) -> dict:
    """One split's ions: graphs, the shipped predictor's inputs, power law and prediction."""
    inputs = featurize(measured_ions(rows), shipped.config)
    with torch.no_grad():
        base = shipped.baseline(inputs)
    return {
        "graphs": graphs_of([r.structure.smiles for r in rows], features),
        "ion": inputs.ion,
        "base": base,
        "ccs": np.array([r.ccs for r in rows]),
        "shipped": np.log(shipped.predict(inputs)),
        "dt_unknown": np.array([r.method in ("DT", "unknown") for r in rows]),
    }


def predict(net: GraphResidual, d: dict, size: int = 1024) -> np.ndarray:
    """The graph network's log CCS of a split's ions (the power law plus its residual)."""
    net.eval()
    with torch.no_grad():
        out = [
            net(d["graphs"][s : s + size], d["ion"][s : s + size]) + d["base"][s : s + size]
            for s in range(0, len(d["ccs"]), size)
        ]
    return torch.cat(out).numpy()


def train(train: dict, val: dict, epochs: int, seed: int) -> tuple[GraphResidual, list]:
    """L1 on log CCS, as the shipped predictor learns; the epoch with the lowest validation
    median is kept, and each epoch's line goes to stderr as it ends."""
    torch.manual_seed(seed)
    first = train["graphs"][0]
    net = GraphResidual(first.atoms.shape[1], first.bonds.shape[1], train["ion"].shape[1])
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(epochs, 1))
    target = torch.log(torch.as_tensor(train["ccs"], dtype=torch.float32))
    best, state, history = float("inf"), None, []
    for epoch in range(epochs):
        started = time.perf_counter()
        net.train()
        for rows in torch.randperm(len(target)).split(256):
            out = net([train["graphs"][i] for i in rows], train["ion"][rows])
            loss = (out + train["base"][rows] - target[rows]).abs().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        median = float(np.median(relative_errors(np.exp(predict(net, val)), val["ccs"])))
        history.append({"epoch": epoch + 1, "val_median_pct": round(median, 3)})
        history[-1]["seconds"] = round(time.perf_counter() - started, 1)
        print(history[-1], file=sys.stderr, flush=True)
        if median < best:
            best, state = median, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    return net, history


def cost_ms(net: GraphResidual, shipped, rows: list, features: str) -> dict:
    """Milliseconds an ion (a structure and one adduct) to featurise and predict: the shipped
    predictor alone, and with the graph network beside it (both from SMILES)."""
    started = time.perf_counter()
    shipped.predict(featurize(measured_ions(rows), shipped.config))
    mlp = time.perf_counter() - started
    started = time.perf_counter()
    predict(net, part_data(rows, shipped, features))
    both = time.perf_counter() - started  # part_data runs the shipped predictor too
    return {
        "shipped_ms": round(1000 * mlp / len(rows), 3),
        "with_graph_ms": round(1000 * both / len(rows), 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--predictor", type=Path, default=SHIPPED)
    parser.add_argument(
        "--atom-features",
        choices=("attentivefp", "report"),
        default="attentivefp",
        help="dgllife's AttentiveFP featurizers, or the structure encoder's (models/molgraph.py)",
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    shipped, parts = shipped_and_parts(args.predictor)
    data = {p: part_data(rows, shipped, args.atom_features) for p, rows in parts.items()}
    net, history = train(data["train"], data["val"], args.epochs, args.seed)
    graph = {p: predict(net, data[p]) for p in ("val", "test")}
    by_weight, weight = chosen_share(data["val"], graph["val"])
    write_result(
        "ccs_graph_lever",
        {
            "ions": {p: len(rows) for p, rows in parts.items()},
            "epochs": args.epochs,
            "seed": args.seed,
            "atom_features": args.atom_features,
            "history": history,
            "val_median_by_weight": by_weight,
            "weight": weight,
            "test": {
                "shipped": errors(data["test"], graph["test"], 0.0),
                "graph network": errors(data["test"], graph["test"], 1.0),
                "averaged": errors(data["test"], graph["test"], weight),
            },
            "cost": cost_ms(net, shipped, parts["test"][:3000], args.atom_features),
        },
        args.output,
    )


if __name__ == "__main__":
    main()
