"""Isomer lever 2 + 4 (issue 13), measured on a registered model without retraining it: a
fingerprint head (MLP, BCE) learns the truth's stored 2048-bit RDKit fingerprint from the
model's MS/MS embedding of training-split spectra; in each mass window the candidates are then
ranked by cosine + alpha x Tanimoto(predicted fingerprint, candidate fingerprint), with alpha
the best of a grid on validation-split windows only. Test-split windows of 10+ candidates
report both rankings beside random and the structure prior ("measured first") on the same
queries, also restricted to measured candidates. Reads the registry named by MOLVIS_HOME."""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
import torch
from sqlalchemy import text

from bench.common import write_result
from models.checkpoint import read_checkpoint
from molvis.workflows.model_loading import model_file
from registry.chem.adducts import neutral_mass
from registry.db.connection import get_engine, session_scope
from registry.learned.versions import get_model
from registry.read.training_data import window_candidates

ALPHAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
KS = (1, 5, 20)


def bits(text_bits: str) -> np.ndarray:
    return np.frombuffer(text_bits.encode(), dtype=np.uint8) - 48


def spectra(session, model_id: int) -> list[tuple]:
    """(compound InChIKey, neutral mass, MS/MS embedding, truth fingerprint) per spectrum."""
    rows = session.execute(
        text(
            "SELECT c.inchikey, m.precursor_mz, m.adduct, e.embedding::real[], c.fingerprint::text "
            "FROM measurement_embedding e JOIN msms_spectrum m ON m.id = e.measurement_id "
            "JOIN compound c ON c.id = m.compound_id WHERE e.model_id = :m AND "
            "e.modality = 'msms' AND m.superseded_by IS NULL AND c.fingerprint IS NOT NULL"
        ),
        {"m": model_id},
    ).all()
    out = []
    for key, mz, adduct, vector, fp in rows:
        mass = neutral_mass(mz, adduct)
        if mass:
            out.append((key, mass, np.asarray(vector, dtype=np.float32), bits(fp)))
    return out


def train_head(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    head = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], 1024), torch.nn.GELU(), torch.nn.Linear(1024, y.shape[1])
    )
    optimizer = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-4)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    for _ in range(epochs):
        for batch in torch.randperm(len(xs)).split(256):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(head(xs[batch]), ys[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return head.eval()


def windows(session, model_id: int, queries: list[tuple], ppm: float, head) -> list[dict]:
    """Per query with 10+ candidates: cosines, Tanimotos, truth position, measured flags."""
    out, cache = [], {}
    for key, mass, vector, _ in queries:
        rounded = round(mass, 4)
        if rounded not in cache:
            cands = window_candidates(session, mass, ppm)
            keys = [c[0] for c in cands]
            rows = dict(
                session.execute(
                    text(
                        "SELECT c.inchikey, c.fingerprint::text FROM compound c "
                        "WHERE c.inchikey = ANY (:k) AND c.fingerprint IS NOT NULL"
                    ),
                    {"k": keys},
                ).all()
            )
            vectors = dict(
                session.execute(
                    text(
                        "SELECT c.inchikey, e.embedding::real[] FROM structure_embedding e JOIN compound c "
                        "ON c.id = e.compound_id WHERE e.model_id = :m AND c.inchikey = ANY (:k)"
                    ),
                    {"m": model_id, "k": keys},
                ).all()
            )
            kept = [c for c in cands if c[0] in rows and c[0] in vectors]
            cache[rounded] = (
                [c[0][:14] for c in kept],
                np.array([c[2] for c in kept]),
                np.stack([bits(rows[c[0]]) for c in kept]) if kept else None,
                np.stack([np.asarray(vectors[c[0]], dtype=np.float32) for c in kept])
                if kept
                else None,
            )
        skeletons, measured, fps, structure = cache[rounded]
        if len(skeletons) < 10 or key[:14] not in skeletons:
            continue
        with torch.no_grad():
            p = torch.sigmoid(head(torch.from_numpy(vector[None]))).numpy()[0]
        inter = fps @ p
        tanimoto = inter / (fps.sum(1) + p.sum() - inter + 1e-9)
        out.append(
            {
                "cos": structure @ vector,
                "tanimoto": tanimoto,
                "truth": skeletons.index(key[:14]),
                "measured": measured,
                "n": len(skeletons),
            }
        )
    return out


def rates(ws: list[dict], alpha: float, measured_only: bool = False) -> dict:
    if not ws:
        return {"n_queries": 0}
    ranks, sizes, measured = [], [], []
    for w in ws:
        keep = w["measured"] if measured_only else np.ones(w["n"], dtype=bool)
        score = (w["cos"] + alpha * w["tanimoto"])[keep]
        truth = int(np.flatnonzero(keep).tolist().index(w["truth"]))
        ranks.append(int(np.sum(score >= score[truth])))
        sizes.append(int(keep.sum()))
        measured.append(int(w["measured"][keep].sum()))
    r, n, m = np.array(ranks), np.array(sizes, float), np.maximum(np.array(measured, float), 1)
    row = {"n_queries": len(ws), "mean_candidates": round(float(n.mean()), 1)}
    for k in KS:
        row[f"top{k}"] = round(float(np.mean(r <= k)), 4)
        row[f"random_top{k}"] = round(float(np.mean(np.minimum(k, n) / n)), 4)
        row[f"prior_top{k}"] = round(float(np.mean(np.minimum(k, m) / m)), 4)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--ppm", type=float, default=10.0)
    parser.add_argument("--max-queries", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with session_scope(get_engine()) as session:
        info = get_model(session, args.model)
        split = read_checkpoint(model_file(info.path))["split"]
        part = {k: name for name, keys in split.items() for k in keys}
        rows = spectra(session, info.id)
        by = {
            name: [r for r in rows if part.get(r[0]) == name] for name in ("train", "val", "test")
        }
        head = train_head(
            np.stack([r[2] for r in by["train"]]),
            np.stack([r[3] for r in by["train"]]),
            args.epochs,
            args.seed,
        )
        rng = random.Random(args.seed)
        sample = {n: rng.sample(by[n], min(args.max_queries, len(by[n]))) for n in ("val", "test")}
        val = windows(session, info.id, sample["val"], args.ppm, head)
        test = windows(session, info.id, sample["test"], args.ppm, head)
    fitted = {a: rates(val, a).get("top1", 0) + rates(val, a).get("top5", 0) for a in ALPHAS}
    alpha = max(ALPHAS, key=lambda a: (fitted[a], -a))
    result = {
        "model": args.model,
        "alpha_grid_val_top1_plus_top5": fitted,
        "alpha": alpha,
        "train_spectra": len(by["train"]),
        "test_windows_10_plus": {
            "cosine": rates(test, 0.0),
            "cosine_plus_fingerprint": rates(test, alpha),
        },
        "test_windows_10_plus_measured_only": {
            "cosine": rates(test, 0.0, True),
            "cosine_plus_fingerprint": rates(test, alpha, True),
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_result("fingerprint_lever", result, args.output)


if __name__ == "__main__":
    main()
