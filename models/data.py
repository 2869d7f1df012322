"""Training data in tensors: the InChIKey split, featurised compounds and measurements, and
batches of (structure, measurement) or (measurement, measurement) pairs of distinct compounds."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

import numpy as np
import torch

from models import molgraph
from models.config import TrainConfig
from models.featurize import (
    SpectrumTensor,
    collate_ccs,
    collate_spectra,
    fingerprint_tensor,
    spectrum_tensor,
)
from registry.read.training_data import TrainingSet

SPLITS = ("train", "val", "test")
MODALITIES = ("structure", "msms", "ir", "ccs")


SPLIT_SEED = 0  # TrainConfig.seed of the shipped structure model: the split every model shares


def split_of(inchikey: str, seed: int) -> str:
    """70/15/15 split by the InChIKey skeleton (first block), stable as the registry grows:
    stereoisomers share a split, so no skeleton is seen in training and tested on."""
    digest = hashlib.sha256(f"{seed}:{inchikey[:14]}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return "train" if fraction < 0.70 else "val" if fraction < 0.85 else "test"


@dataclass
class Prepared:
    """Featurised training set: per compound its graph and fingerprint, per modality a list of
    (compound index, model input), and the split of every compound."""

    inchikeys: list[str]
    masses: np.ndarray
    split: list[str]
    graphs: list[molgraph.MolGraph | None]
    fingerprints: torch.Tensor
    measurements: dict[str, list[tuple[int, object]]] = field(default_factory=dict)

    def by_compound(self, modality: str) -> dict[int, list[object]]:
        grouped: dict[int, list[object]] = {}
        for compound, item in self.measurements.get(modality, []):
            grouped.setdefault(compound, []).append(item)
        return grouped


def msms_input(row, config: TrainConfig) -> SpectrumTensor:
    return spectrum_tensor(
        row.mz,
        row.intensity,
        row.precursor_mz,
        row.adduct,
        row.ion_mode,
        row.instrument_type,
        row.collision_energy,
        config.msms.max_peaks,
        config.msms.remove_precursor_peaks,
    )


def prepare(data: TrainingSet, config: TrainConfig) -> Prepared:
    """Featurise every compound and measurement once; unparsable structures are left out."""
    graphs = molgraph.featurize_all([c.smiles for c in data.compounds])
    prepared = Prepared(
        inchikeys=[c.inchikey for c in data.compounds],
        masses=np.array([c.monoisotopic_mass for c in data.compounds]),
        split=[split_of(c.inchikey, config.seed) for c in data.compounds],
        graphs=graphs,
        fingerprints=torch.stack([fingerprint_tensor(c.fingerprint) for c in data.compounds])
        if data.compounds
        else torch.zeros((0, 2048)),
    )
    prepared.measurements["msms"] = [(r.compound, msms_input(r, config)) for r in data.msms]
    prepared.measurements["ir"] = [(r.compound, torch.from_numpy(r.vector)) for r in data.ir]
    prepared.measurements["ccs"] = [(r.compound, (r.ccs, r.mz, r.adduct)) for r in data.ccs]
    return prepared


def collate(modality: str, items: list[object]):
    """Model input batch for one modality."""
    if modality == "structure":
        return molgraph.batch(items)
    if modality == "msms":
        return collate_spectra(items)
    if modality == "ir":
        return torch.stack(items)
    return collate_ccs(items)


@dataclass
class PairBatch:
    pair: tuple[str, str]
    compounds: list[int]
    left: object
    right: object


def pair_batches(
    prepared: Prepared,
    pair: tuple[str, str],
    split: str,
    config: TrainConfig,
    rng: random.Random,
    repeats: int = 1,
) -> list[PairBatch]:
    """Batches of distinct compounds of `split` that have both modalities of `pair`; each
    compound appears `repeats` times per epoch with a random measurement each time. With
    hard negatives, batches are filled with compounds of similar mass."""
    grouped = {m: prepared.by_compound(m) for m in pair if m != "structure"}
    eligible = [
        i
        for i in range(len(prepared.inchikeys))
        if prepared.split[i] == split
        and prepared.graphs[i] is not None
        and all(i in g for g in grouped.values())
    ]
    batches: list[PairBatch] = []
    if len(eligible) < 2:
        return batches
    for _ in range(repeats):
        order = list(eligible)
        rng.shuffle(order)
        if config.hard_negatives:
            order.sort(key=lambda i: prepared.masses[i] + rng.uniform(-0.5, 0.5))
        for start in range(0, len(order), config.batch_size):
            chunk = order[start : start + config.batch_size]
            if len(chunk) < 2:
                continue
            sides = []
            for modality in pair:
                if modality == "structure":
                    items = [prepared.graphs[i] for i in chunk]
                else:
                    items = [rng.choice(grouped[modality][i]) for i in chunk]
                sides.append(collate(modality, items))
            batches.append(PairBatch(pair, chunk, sides[0], sides[1]))
    if config.hard_negatives:
        rng.shuffle(batches)
    return batches
