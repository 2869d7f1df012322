"""AttentiveFP (Xiong et al. 2020) in plain PyTorch: dgllife 0.3.2's modules, parameter names
and arithmetic, with message passing written as gathers and `index_add_` over a `GraphBatch`.

Written here rather than called from dgllife because DGL's CUDA builds stop at torch 2.4 and
are not on PyPI, so with DGL the structure encoder (and so training and the embedding backfill)
could not run on a current GPU; tests check these modules against dgllife's on the same weights
and that the same seed gives the same initial weights, so checkpoints load either way."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from models.molgraph import GraphBatch


def _sum_into(values: Tensor, index: Tensor, size: int) -> Tensor:
    """Rows of `values` summed into `size` rows by `index` (DGL's fn.sum reduce)."""
    out = values.new_zeros((size, values.shape[1]))
    return out.index_add_(0, index, values)


def _softmax_by(logits: Tensor, index: Tensor, size: int) -> Tensor:
    """Softmax of (n, 1) logits within each group of `index` (DGL's edge_softmax by
    destination, and softmax_nodes by graph), in float32 whatever autocast gives."""
    logits = logits.float()
    peak = logits.new_full((size, 1), -torch.inf)
    peak = peak.scatter_reduce(0, index[:, None], logits, "amax", include_self=True)
    weight = torch.exp(logits - peak[index])
    return weight / _sum_into(weight, index, size)[index]


class AttentiveGRU1(nn.Module):
    """Node update from attention-weighted bond messages (the first layer's)."""

    def __init__(
        self, node_feat_size: int, edge_feat_size: int, edge_hidden_size: int, dropout: float
    ):
        super().__init__()
        self.edge_transform = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(edge_feat_size, edge_hidden_size)
        )
        self.gru = nn.GRUCell(edge_hidden_size, node_feat_size)

    def forward(
        self, g: GraphBatch, edge_logits: Tensor, edge_feats: Tensor, node_feats: Tensor
    ) -> Tensor:
        messages = _softmax_by(edge_logits, g.dst, g.n_atoms) * self.edge_transform(edge_feats)
        context = F.elu(_sum_into(messages, g.dst, g.n_atoms))
        return F.relu(self.gru(context, node_feats))


class AttentiveGRU2(nn.Module):
    """Node update from attention-weighted neighbour features (later layers')."""

    def __init__(self, node_feat_size: int, edge_hidden_size: int, dropout: float):
        super().__init__()
        self.project_node = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(node_feat_size, edge_hidden_size)
        )
        self.gru = nn.GRUCell(edge_hidden_size, node_feat_size)

    def forward(self, g: GraphBatch, edge_logits: Tensor, node_feats: Tensor) -> Tensor:
        weight = _softmax_by(edge_logits, g.dst, g.n_atoms)
        messages = self.project_node(node_feats)[g.src] * weight
        context = F.elu(_sum_into(messages, g.dst, g.n_atoms))
        return F.relu(self.gru(context, node_feats))


class GetContext(nn.Module):
    """First layer: bond features folded into atom representations."""

    def __init__(
        self, node_feat_size: int, edge_feat_size: int, graph_feat_size: int, dropout: float
    ):
        super().__init__()
        self.project_node = nn.Sequential(
            nn.Linear(node_feat_size, graph_feat_size), nn.LeakyReLU()
        )
        self.project_edge1 = nn.Sequential(
            nn.Linear(node_feat_size + edge_feat_size, graph_feat_size), nn.LeakyReLU()
        )
        self.project_edge2 = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(2 * graph_feat_size, 1), nn.LeakyReLU()
        )
        self.attentive_gru = AttentiveGRU1(
            graph_feat_size, graph_feat_size, graph_feat_size, dropout
        )

    def forward(self, g: GraphBatch, node_feats: Tensor, edge_feats: Tensor) -> Tensor:
        hv_new = self.project_node(node_feats)
        he1 = self.project_edge1(torch.cat([node_feats[g.src], edge_feats], dim=1))
        logits = self.project_edge2(torch.cat([hv_new[g.dst], he1], dim=1))
        return self.attentive_gru(g, logits, he1, hv_new)


class GNNLayer(nn.Module):
    """Later layers: attention over neighbours' representations."""

    def __init__(self, node_feat_size: int, graph_feat_size: int, dropout: float):
        super().__init__()
        self.project_edge = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(2 * node_feat_size, 1), nn.LeakyReLU()
        )
        self.attentive_gru = AttentiveGRU2(node_feat_size, graph_feat_size, dropout)

    def forward(self, g: GraphBatch, node_feats: Tensor) -> Tensor:
        logits = self.project_edge(torch.cat([node_feats[g.dst], node_feats[g.src]], dim=1))
        return self.attentive_gru(g, logits, node_feats)


class AttentiveFPGNN(nn.Module):
    """Atom representations after `num_layers` rounds of attentive message passing."""

    def __init__(
        self,
        node_feat_size: int,
        edge_feat_size: int,
        num_layers: int,
        graph_feat_size: int,
        dropout: float,
    ):
        super().__init__()
        self.init_context = GetContext(node_feat_size, edge_feat_size, graph_feat_size, dropout)
        self.gnn_layers = nn.ModuleList(
            GNNLayer(graph_feat_size, graph_feat_size, dropout) for _ in range(num_layers - 1)
        )

    def forward(self, g: GraphBatch) -> Tensor:
        node_feats = self.init_context(g, g.atoms, g.bonds)
        for gnn in self.gnn_layers:
            node_feats = gnn(g, node_feats)
        return node_feats


class GlobalPool(nn.Module):
    """One readout step: attention over a molecule's atoms, then a GRU on the molecule."""

    def __init__(self, feat_size: int, dropout: float):
        super().__init__()
        self.compute_logits = nn.Sequential(nn.Linear(2 * feat_size, 1), nn.LeakyReLU())
        self.project_nodes = nn.Sequential(nn.Dropout(dropout), nn.Linear(feat_size, feat_size))
        self.gru = nn.GRUCell(feat_size, feat_size)

    def forward(self, g: GraphBatch, node_feats: Tensor, g_feats: Tensor) -> Tensor:
        logits = self.compute_logits(torch.cat([F.relu(g_feats)[g.molecule], node_feats], dim=1))
        weight = _softmax_by(logits, g.molecule, g.n_molecules)
        pooled = _sum_into(self.project_nodes(node_feats) * weight, g.molecule, g.n_molecules)
        return self.gru(F.elu(pooled), g_feats)


class AttentiveFPReadout(nn.Module):
    """Molecule representations: the atom sum refined by `num_timesteps` attentive pools."""

    def __init__(self, feat_size: int, num_timesteps: int, dropout: float):
        super().__init__()
        self.readouts = nn.ModuleList(GlobalPool(feat_size, dropout) for _ in range(num_timesteps))

    def forward(self, g: GraphBatch, node_feats: Tensor) -> Tensor:
        g_feats = _sum_into(node_feats, g.molecule, g.n_molecules)
        for readout in self.readouts:
            g_feats = readout(g, node_feats, g_feats)
        return g_feats
