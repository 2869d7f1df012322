"""Encoders into the shared embedding space; each has embed() returning unit vectors."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Encoder(nn.Module):
    """Base: subclasses implement forward(batch) -> raw vectors of the shared size."""

    def embed(self, batch) -> torch.Tensor:
        return F.normalize(self(batch).float(), dim=-1)
