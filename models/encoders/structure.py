"""Structure encoder: AttentiveFP over the molecular graph, read out to the shared size."""

from __future__ import annotations

import torch
from torch import nn

from models.config import StructureEncoderConfig
from models.encoders import Encoder
from models.encoders.attentivefp import AttentiveFPGNN, AttentiveFPReadout
from models.molgraph import ATOM_FEATURES, BOND_FEATURES, GraphBatch


class StructureEncoder(Encoder):
    def __init__(self, config: StructureEncoderConfig, embed_dim: int) -> None:
        super().__init__()
        self.gnn = AttentiveFPGNN(
            ATOM_FEATURES, BOND_FEATURES, config.num_layers, config.graph_feat_size, config.dropout
        )
        self.readout = AttentiveFPReadout(
            config.graph_feat_size, config.num_timesteps, config.dropout
        )
        self.project = nn.Sequential(
            nn.Linear(config.graph_feat_size, config.graph_feat_size),
            nn.SiLU(),
            nn.Linear(config.graph_feat_size, embed_dim),
        )

    def forward(self, graph: GraphBatch) -> torch.Tensor:
        return self.project(self.readout(graph, self.gnn(graph)))
