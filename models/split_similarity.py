"""How far the test split is from training: each test compound's Tanimoto similarity to its
nearest training compound (RDKit Morgan radius 2, 2048 bits). A skeleton split still leaves
close analogues in training; this says how many."""

from __future__ import annotations

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator


def _fingerprints(smiles: list[str]) -> list:
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    out = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        if mol is not None:
            out.append(generator.GetFingerprint(mol))
    return out


def nearest_train_similarity(test: list[str], train: list[str]) -> dict[str, float]:
    """Quantiles of the nearest-training-compound Tanimoto over the test compounds, and the
    fractions at >= 0.7 (close analogues) and < 0.4 (novel)."""
    train_fps = _fingerprints(train)
    nearest = np.array(
        [
            max(DataStructs.BulkTanimotoSimilarity(fp, train_fps), default=0.0)
            for fp in _fingerprints(test)
        ]
    )
    if nearest.size == 0:
        return {}
    q = np.percentile(nearest, [10, 25, 50, 75, 90])
    return {
        "compounds": int(nearest.size),
        **{f"p{p}": round(float(v), 3) for p, v in zip((10, 25, 50, 75, 90), q, strict=True)},
        "fraction_at_least_0.7": round(float(np.mean(nearest >= 0.7)), 3),
        "fraction_below_0.4": round(float(np.mean(nearest < 0.4)), 3),
    }
