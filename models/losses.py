"""Contrastive losses between two batches of unit vectors q (queries) and r (references),
where q[i] and r[i] belong to the same compound. S is the batch's Tanimoto matrix."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def clip_infonce(q: torch.Tensor, r: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP): cross-entropy over scaled cosine logits, both directions."""
    logits = logit_scale * q @ r.T
    target = torch.arange(q.shape[0], device=q.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def report_eq3(q: torch.Tensor, r: torch.Tensor, tanimoto: torch.Tensor) -> torch.Tensor:
    """The report's Equation 3 exactly as written (a sum over the batch, no temperature):
    L = sum_i -log( exp(q_i . r_i) / sum_j exp(|q_i . r_j - S_ij|) )."""
    sims = q @ r.T
    return -(sims.diagonal() - torch.logsumexp((sims - tanimoto).abs(), dim=1)).sum()


def bce_tanimoto(q: torch.Tensor, r: torch.Tensor, tanimoto: torch.Tensor) -> torch.Tensor:
    """BCE between pair probabilities (cosine mapped to [0, 1]) and Tanimoto soft labels;
    the matching pair's label is 1."""
    prob = ((q @ r.T + 1) / 2).clamp(1e-6, 1 - 1e-6)
    labels = tanimoto.clone()
    labels.fill_diagonal_(1.0)
    return F.binary_cross_entropy(prob, labels)


def contrastive_margin(
    q: torch.Tensor, r: torch.Tensor, positive: float = 0.8, negative: float = 0.2
) -> torch.Tensor:
    """Squared hinge: matching pairs pulled above `positive`, others pushed below `negative`."""
    sims = q @ r.T
    eye = torch.eye(q.shape[0], dtype=torch.bool, device=q.device)
    pos = F.relu(positive - sims[eye]).pow(2).mean()
    neg = F.relu(sims[~eye] - negative).pow(2).mean() if q.shape[0] > 1 else sims.new_zeros(())
    return pos + neg
