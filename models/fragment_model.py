"""A forward model of MS/MS: which of the fragmenter's ions appear, and how strongly, given the
structure, the adduct and the collision energy (in the spirit of CFM-ID and ICEBERG, which score
a fragmenter's fragments; here a small network over each ion's description). Its predicted
spectrum is every ion's predicted relative intensity, merged per m/z.

Each ion is described by the piece it comes from (size and mass shares, elements, aromatic and
ring atoms), the bonds cut to free it (kinds, in rings, to heteroatoms, steps), the hydrogens
moved, and the precursor's adduct and collision energy. Trained on the registry's spectra of
training-split skeletons: an ion's target is the square root of the relative intensity of the
measured peak it explains (0 when none does)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rdkit import Chem
from torch import nn

from models.checkpoint import read_small_model, save_small_model
from registry.chem.explain import candidate_ions, fragment_peaks, ion_formula, matching_ions
from registry.chem.fragmenter import MAX_SHIFT, FragmentIons

ADDUCT_KINDS = ("[M+H]+", "[M-H]-", "[M+Na]+")  # one-hot; any other adduct: the fourth column
HALOGENS = ("F", "Cl", "Br", "I")
ELEMENT_COLUMNS = ("C", "N", "O", "S", "P")
FEATURES = (
    "atom share", "mass share", *(f"{e} share" for e in ELEMENT_COLUMNS), "halogen share",
    "aromatic share", "ring share", "cut single", "cut double", "cut aromatic", "cut in ring",
    "cut to heteroatom", "cut bonds", "steps", *(f"shift {s:+d}" for s in range(-2, 3)),
    "ion m/z share", *ADDUCT_KINDS, "other adduct", "collision energy", "no collision energy",
)  # fmt: skip


@dataclass
class FragmentConfig:
    """Hyperparameters of the forward model and its training."""

    hidden: int = 64
    layers: int = 2
    depth: int = 2  # the fragmenter's cleavage steps
    epochs: int = 8
    lr: float = 3e-3
    batch_size: int = 4096
    max_spectra: int | None = 3000  # training spectra drawn (None: all)
    top_peaks: int = 30  # peaks of a predicted spectrum
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FragmentConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown forward-model settings: {', '.join(sorted(unknown))}")
        return cls(**data)


def collision_energy(text: str | float | None) -> float | None:
    """The first number of a collision-energy field ('35 eV', '10(NCE)', '30% (nominal)')."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return float(text) if math.isfinite(text) else None
    found = re.search(r"\d+(\.\d+)?", str(text))
    return float(found.group()) if found else None


def _piece_rows(mol: Chem.Mol, pieces: list) -> np.ndarray:
    """The part of each piece's description that does not depend on its hydrogen shift, for
    all pieces at once (one row of atoms per piece)."""
    n = mol.GetNumAtoms()
    width = (n + 7) // 8
    packed = np.frombuffer(b"".join(p.atoms.to_bytes(width, "little") for p in pieces), np.uint8)
    inside = np.unpackbits(packed.reshape(len(pieces), width), axis=1, bitorder="little")[:, :n]
    inside = inside.astype(np.float32)
    symbol = [a.GetSymbol() for a in mol.GetAtoms()]
    per_atom = np.array(
        [[s == e for e in ELEMENT_COLUMNS] + [s in HALOGENS] for s in symbol], dtype=np.float32
    ).reshape(n, len(ELEMENT_COLUMNS) + 1)
    atom_kind = np.array(
        [[a.GetIsAromatic(), a.IsInRing()] for a in mol.GetAtoms()], dtype=np.float32
    ).reshape(n, 2)
    bonds = list(mol.GetBonds())
    ends = np.array([[b.GetBeginAtomIdx(), b.GetEndAtomIdx()] for b in bonds], int).reshape(-1, 2)
    bond_kind = np.array(
        [
            [
                b.GetBondType() == Chem.BondType.SINGLE,
                b.GetBondType() == Chem.BondType.DOUBLE,
                b.GetBondType() == Chem.BondType.AROMATIC,
                b.IsInRing(),
                symbol[b.GetBeginAtomIdx()] != "C" or symbol[b.GetEndAtomIdx()] != "C",
            ]
            for b in bonds
        ],
        dtype=np.float32,
    ).reshape(-1, 5)
    count = np.maximum(inside.sum(axis=1, keepdims=True), 1)
    cut = (inside[:, ends[:, 0]] != inside[:, ends[:, 1]]).astype(np.float32)
    masses = np.array([p.mass for p in pieces], np.float32)
    own = np.array([[p.cut_bonds, p.steps] for p in pieces], np.float32)
    return np.concatenate(
        [
            count / n,
            (masses / (masses[0] or 1.0))[:, None],
            inside @ per_atom / count,
            inside @ atom_kind / count,
            cut @ bond_kind,
            own,
        ],
        axis=1,
    ).astype(np.float32)


def ion_features(
    mol: Chem.Mol, pieces: list, ions: FragmentIons, adduct: str, energy: float | None
) -> np.ndarray:
    """One row of FEATURES per ion of `ions`."""
    if not len(ions.mz):
        return np.zeros((0, len(FEATURES)), np.float32)
    per_piece = _piece_rows(mol, pieces)[ions.fragment]
    shift = np.zeros((len(ions.mz), 2 * MAX_SHIFT + 1), np.float32)
    shift[np.arange(len(ions.mz)), ions.shift + MAX_SHIFT] = 1
    precursor = max(float(ions.mz.max()), 1.0)
    kind = np.zeros(len(ADDUCT_KINDS) + 1, np.float32)
    kind[ADDUCT_KINDS.index(adduct) if adduct in ADDUCT_KINDS else -1] = 1
    energy_columns = [min(energy, 200.0) / 100.0, 0.0] if energy is not None else [0.0, 1.0]
    common = np.concatenate([kind, np.array(energy_columns, np.float32)])
    return np.concatenate(
        [
            per_piece,
            shift,
            (ions.mz / precursor).astype(np.float32)[:, None],
            np.broadcast_to(common, (len(ions.mz), len(common))),
        ],
        axis=1,
    ).astype(np.float32)


class FragmentModel(nn.Module):
    """FEATURES -> the logit of an ion's (square-root) relative intensity."""

    def __init__(self, config: FragmentConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = len(FEATURES)
        for _ in range(config.layers):
            layers += [nn.Linear(width, config.hidden), nn.ReLU()]
            width = config.hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(-1)


def ion_targets(ions: FragmentIons, mz: np.ndarray, intensity: np.ndarray, precursor: float | None):
    """Each ion's target: sqrt of the relative intensity of the fragment peak it falls on."""
    peaks, share = fragment_peaks(mz, intensity, precursor)
    target = np.zeros(len(ions.mz), np.float32)
    if not len(peaks):
        return target
    relative = np.sqrt(share / share.max())
    lo, hi = matching_ions(peaks, ions)
    for a, b, value in zip(lo, hi, relative, strict=True):
        target[a:b] = np.maximum(target[a:b], value)
    return target


def examples(smiles: str, adduct: str, energy, mz, intensity, precursor, depth: int):
    """(features, targets) of one measured spectrum."""
    mol, pieces, ions = candidate_ions(smiles, adduct, depth)
    features = ion_features(mol, pieces, ions, adduct, collision_energy(energy))
    return features, ion_targets(ions, np.asarray(mz), np.asarray(intensity), precursor)


def train_model(
    features: np.ndarray, targets: np.ndarray, config: FragmentConfig, progress=None
) -> tuple[FragmentModel, list[float]]:
    """Fit the network to (features, targets) by binary cross-entropy on soft targets; the
    mean loss of each epoch."""
    torch.manual_seed(config.seed)
    model = FragmentModel(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    x, y = torch.from_numpy(features), torch.from_numpy(targets)
    loss_of = nn.BCEWithLogitsLoss()
    history = []
    generator = torch.Generator().manual_seed(config.seed)
    for epoch in range(config.epochs):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimiser.zero_grad()
            loss = loss_of(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        history.append(total / max(len(x), 1))
        if progress:
            progress(epoch + 1, history[-1])
    model.eval()
    return model, history


def _numpy_logits(model: FragmentModel, features: np.ndarray) -> np.ndarray:
    """The network's logits computed in NumPy: for a few thousand ions of 17 columns, torch's
    thread pool costs more than the arithmetic (and contends with other work on the cores)."""
    x = features
    for layer in model.net:
        if isinstance(layer, nn.Linear):
            x = x @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
        else:
            x = np.maximum(x, 0)
    return x[:, 0]


def predict_spectrum(
    model: FragmentModel, smiles: str, adduct: str, energy=None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The predicted spectrum: m/z, intensity (a base peak of 1) and the ion formula of each
    peak, the `top_peaks` strongest; ions within 1 mDa are one peak (the strongest's)."""
    mol, pieces, ions = candidate_ions(smiles, adduct, model.config.depth)
    if not len(ions.mz):
        return np.zeros(0), np.zeros(0), []
    features = ion_features(mol, pieces, ions, adduct, collision_energy(energy))
    strength = (1 / (1 + np.exp(-_numpy_logits(model, features)))) ** 2  # sigmoid, squared back
    keep: dict[float, int] = {}
    for i in np.argsort(-strength, kind="stable"):
        key = round(float(ions.mz[i]), 3)
        if key not in keep:
            keep[key] = int(i)
        if len(keep) == model.config.top_peaks:
            break
    chosen = sorted(keep.values(), key=lambda i: ions.mz[i])
    intensity = strength[chosen] / max(strength[chosen].max(), 1e-12)
    formulas = [
        ion_formula(pieces[ions.fragment[i]].elements(mol), int(ions.shift[i]), adduct)
        for i in chosen
    ]
    return ions.mz[chosen], intensity, formulas


def save_model(model: FragmentModel, metrics: dict[str, Any], path: Path) -> str:
    """Hyperparameters + weights + metrics in one weights-only torch file; returns the version."""
    return save_small_model(
        "fragment-model", asdict(model.config), model.state_dict(), metrics, path
    )


def load_model(path: Path) -> tuple[FragmentModel, dict[str, Any]]:
    """A saved forward model, read with torch's weights-only unpickler (nothing that runs code)."""
    saved = read_small_model(path, "fragment-model", "forward model")
    model = FragmentModel(FragmentConfig.from_dict(saved["config"]))
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return model, saved
