"""A forward model of MS/MS: how the precursor's intensity spreads over the fragmenter's ions,
given the structure, the adduct and the collision energy (in the spirit of CFM-ID and ICEBERG,
which score a fragmenter's fragments; here a network over each ion's description,
models/fragment_features.py). Its predicted spectrum is a probability per ion (a softmax over
the structure's ions), summed per m/z.

Trained on the registry's spectra of training-split skeletons by the spectrum's own shape: the
measured fragment peaks the fragmenter explains, as shares of their sum, are the target, and a
peak's predicted share is the sum over the ions within the fragment tolerance of it; the loss is
their cross-entropy (what the entropy similarity of predicted and measured spectra rewards)."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.checkpoint import read_small_model, save_small_model
from models.config import read_settings
from models.fragment_features import FEATURES, collision_energy, ion_columns, piece_features
from registry.chem.explain import candidate_ions, fragment_peaks, ion_formula, matching_ions

KIND = "fragment-model-2"  # version 1 scored each ion alone: its files are refused, not misread


@dataclass
class FragmentConfig:
    """Hyperparameters of the forward model and its training."""

    hidden: int = 128
    layers: int = 3
    depth: int = 2  # the fragmenter's cleavage steps
    epochs: int = 8
    lr: float = 2e-3
    batch_size: int = 32  # spectra per step
    max_spectra: int | None = 6000  # training spectra drawn (None: all)
    top_peaks: int = 30  # peaks of a predicted spectrum
    seed: int = 0
    device: str = "auto"  # where it trains: auto (CUDA when there is one), cpu, cuda

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FragmentConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown forward-model settings: {', '.join(sorted(unknown))}")
        return cls(**data)

    @classmethod
    def from_file(cls, path: Path) -> FragmentConfig:
        """Settings from a YAML or JSON file (models/configs/fragments-gpu.yaml); the rest keep
        their defaults, an unknown one is an error naming it."""
        data = read_settings(path)
        if not isinstance(data or {}, dict):
            raise ValueError(f"{path}: not a mapping of forward-model settings")
        return cls.from_dict(data or {})

    @classmethod
    def given(cls, path: Path | None, **flags: Any) -> FragmentConfig:
        """The settings of `path` (the defaults without one) with the flags that are not None
        over them: what `molvis spectra train` and `bench.forward_model` train with."""
        config = cls.from_file(path) if path else cls()
        return replace(config, **{k: v for k, v in flags.items() if v is not None})


@dataclass(frozen=True)
class SpectrumExample:
    """One measured spectrum as the network sees it: each piece's features once (half
    precision: a spectrum has thousands of ions), each ion's piece and own columns, and the
    explained peaks as (ion, peak) pairs with the peaks' shares of the explained intensity."""

    pieces: np.ndarray  # (pieces, PIECE_FEATURES) float16
    fragment: np.ndarray  # (ions,) the piece of each ion
    ions: np.ndarray  # (ions, ION_FEATURES) float16
    pair_ion: np.ndarray  # ion index of each (ion, peak) pair
    pair_peak: np.ndarray  # peak index of each pair
    share: np.ndarray  # (explained peaks,) summing to 1

    def features(self) -> np.ndarray:
        return np.concatenate([self.pieces[self.fragment], self.ions], axis=1).astype(np.float32)


def peak_pairs(ions, mz: np.ndarray, intensity: np.ndarray, precursor: float | None):
    """The measured fragment peaks the ions explain: (ion, peak) index pairs and each explained
    peak's share of the explained intensity (peaks no ion explains are left out)."""
    peaks, share = fragment_peaks(mz, intensity, precursor)
    lo, hi = matching_ions(peaks, ions)
    explained = hi > lo
    counts = (hi - lo)[explained]
    pair_peak = np.repeat(np.arange(int(explained.sum())), counts)
    pair_ion = np.concatenate(
        [np.arange(a, b) for a, b in zip(lo, hi, strict=True) if b > a] or [[]]
    )
    kept = share[explained].astype(np.float32)
    return pair_ion.astype(np.int64), pair_peak, kept / kept.sum() if len(kept) else kept


def examples(smiles: str, adduct: str, energy, mz, intensity, precursor, depth: int):
    """The SpectrumExample of one measured spectrum (None when no ion explains a peak)."""
    mol, pieces, ions = candidate_ions(smiles, adduct, depth)
    if not len(ions.mz):
        return None
    pair_ion, pair_peak, share = peak_pairs(
        ions, np.asarray(mz, float), np.asarray(intensity, float), precursor
    )
    if not len(share):
        return None
    return SpectrumExample(
        piece_features(mol, pieces).astype(np.float16),
        ions.fragment,
        ion_columns(ions, adduct, collision_energy(energy)).astype(np.float16),
        pair_ion,
        pair_peak,
        share,
    )


class FragmentModel(nn.Module):
    """FEATURES -> an ion's logit; a structure's ions share the precursor's intensity by the
    softmax of their logits. `version`: the content hash of its saved weights ('' unsaved)."""

    def __init__(self, config: FragmentConfig):
        super().__init__()
        self.config = config
        self.version = ""
        layers: list[nn.Module] = []
        width = len(FEATURES)
        for _ in range(config.layers):
            layers += [nn.Linear(width, config.hidden), nn.ReLU()]
            width = config.hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(-1)


def spectrum_loss(logits: torch.Tensor, batch: list[SpectrumExample]) -> torch.Tensor:
    """Mean over the batch's spectra of the cross-entropy between each spectrum's measured
    peak shares and the predicted ones (a peak's predicted share: the summed softmax of the
    ions that explain it). `logits` are the batch's ions, spectrum after spectrum, on any
    device: every tensor made here follows them."""
    device = logits.device
    ion_sizes = [len(e.fragment) for e in batch]
    sizes = torch.tensor(ion_sizes, device=device)
    owner = torch.repeat_interleave(
        torch.arange(len(batch), device=device), sizes, output_size=sum(ion_sizes)
    )
    top = torch.full((len(batch),), -torch.inf, device=device)
    top = top.scatter_reduce(0, owner, logits.detach(), "amax")
    shifted = logits - top[owner]
    total = torch.zeros(len(batch), device=device).index_add(0, owner, torch.exp(shifted))
    log_share = shifted - torch.log(total[owner])
    ion_offset = np.cumsum([0, *ion_sizes[:-1]])
    peak_sizes = [len(e.share) for e in batch]
    peak_offset = np.cumsum([0, *peak_sizes[:-1]])
    pair_ion = torch.cat(
        [torch.from_numpy(e.pair_ion) + int(o) for e, o in zip(batch, ion_offset, strict=True)]
    ).to(device)
    pair_peak = torch.cat(
        [torch.from_numpy(e.pair_peak) + int(o) for e, o in zip(batch, peak_offset, strict=True)]
    ).to(device)
    predicted = torch.zeros(sum(peak_sizes), device=device)
    predicted = predicted.index_add(0, pair_peak, torch.exp(log_share[pair_ion]))
    measured = torch.from_numpy(np.concatenate([e.share for e in batch])).to(device)
    return -(measured * torch.log(predicted + 1e-8)).sum() / len(batch)


def train_model(
    data: list[SpectrumExample], config: FragmentConfig, progress=None
) -> tuple[FragmentModel, list[float]]:
    """Fit the network to the spectra by `spectrum_loss` (Adam, one-cycle learning rate) on
    `config.device`; the mean loss of each epoch. The model comes back on the CPU, where it
    predicts."""
    from models.train import pick_device

    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    model = FragmentModel(config).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps = config.epochs * max(-(-len(data) // config.batch_size), 1)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=steps)
    order = list(range(len(data)))
    history = []
    for epoch in range(config.epochs):
        random.Random(config.seed + epoch).shuffle(order)
        model.train()
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            batch = [data[i] for i in order[start : start + config.batch_size]]
            features = torch.from_numpy(np.concatenate([e.features() for e in batch])).to(device)
            loss = spectrum_loss(model(features), batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch)
        history.append(total / max(len(data), 1))
        if progress:
            progress(epoch + 1, history[-1])
    model.to("cpu").eval()
    return model, history


def _numpy_logits(
    model: FragmentModel, pieces: np.ndarray, fragment: np.ndarray, ions: np.ndarray
) -> np.ndarray:
    """The network's logits for ions whose rows are their piece's row (`pieces[fragment]`)
    followed by their own columns, in NumPy: for a few thousand ions torch's thread pool costs
    more than the arithmetic. The first layer reads each piece's columns once, not per ion."""
    first, *rest = model.net
    weight = first.weight.detach().numpy()
    width = pieces.shape[1]
    x = (pieces @ weight[:, :width].T)[fragment] + ions @ weight[:, width:].T
    x += first.bias.detach().numpy()
    for layer in rest:
        if isinstance(layer, nn.Linear):
            x = x @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
        else:
            x = np.maximum(x, 0)
    return x[:, 0]


def predicted_peaks(
    model: FragmentModel, smiles: str, adduct: str, energy=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The predicted spectrum's m/z and intensity (a base peak of 1), the `top_peaks`
    strongest, and each peak's most probable ion (its index in `candidate_ions`); ions within
    1 mDa are one peak, their probabilities summed."""
    mol, pieces, ions = candidate_ions(smiles, adduct, model.config.depth)
    if not len(ions.mz):
        return np.zeros(0), np.zeros(0), np.zeros(0, int)
    columns = ion_columns(ions, adduct, collision_energy(energy))
    logits = _numpy_logits(model, piece_features(mol, pieces), ions.fragment, columns)
    share = np.exp(logits - logits.max())
    keys, peak_of = np.unique(np.round(ions.mz, 3), return_inverse=True)
    summed = np.zeros(len(keys))
    np.add.at(summed, peak_of, share)
    by_peak = np.lexsort((share, peak_of))  # by peak, each peak's strongest ion last
    strongest = by_peak[np.r_[np.flatnonzero(np.diff(peak_of[by_peak])), len(by_peak) - 1]]
    chosen = np.sort(np.argsort(-summed, kind="stable")[: model.config.top_peaks])
    ion = strongest[chosen]
    return ions.mz[ion], summed[chosen] / summed[chosen].max(), ion


def predict_spectrum(
    model: FragmentModel, smiles: str, adduct: str, energy=None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The predicted spectrum (`predicted_peaks`) with the ion formula of each peak."""
    mz, intensity, ion = predicted_peaks(model, smiles, adduct, energy)
    mol, pieces, ions = candidate_ions(smiles, adduct, model.config.depth)  # kept from above
    formulas = [
        ion_formula(pieces[ions.fragment[i]].elements(mol), int(ions.shift[i]), adduct) for i in ion
    ]
    return mz, intensity, formulas


def save_model(model: FragmentModel, metrics: dict[str, Any], path: Path) -> str:
    """Hyperparameters + weights + metrics in one weights-only torch file; returns the version."""
    model.version = save_small_model(KIND, asdict(model.config), model.state_dict(), metrics, path)
    return model.version


def load_model(path: Path) -> tuple[FragmentModel, dict[str, Any]]:
    """A saved forward model, read with torch's weights-only unpickler (nothing that runs code)."""
    saved = read_small_model(path, KIND, "forward model (of this molvis version)")
    model = FragmentModel(FragmentConfig.from_dict(saved["config"]))
    model.load_state_dict(saved["state_dict"])
    model.version = str(saved["version"])
    model.eval()
    return model, saved
