"""The plain-PyTorch AttentiveFP against dgllife's, the reference it replaces so the structure
encoder runs wherever torch does: same parameter names, same initial weights for a seed, same
outputs and gradients on the shipped weights."""

import dgl
import numpy as np
import torch
from dgllife.model.gnn import AttentiveFPGNN as ReferenceGNN
from dgllife.model.readout import AttentiveFPReadout as ReferenceReadout

from models.checkpoint import load_checkpoint
from models.encoders.attentivefp import AttentiveFPGNN, AttentiveFPReadout
from models.molgraph import ATOM_FEATURES, BOND_FEATURES, MolGraph, batch, featurize_all
from tests.conftest import REPO, library_smiles

EDGE_CASES = ["CCO", "[Na+].[Cl-]", "[Fe+3]", "C", "[H][H]", "CC(=O)[O-].[K+]", "c1ccccc1O"]


def reference_graph(graphs: list[MolGraph]) -> dgl.DGLGraph:
    """The same molecules as one batched DGLGraph, as dgllife's `smiles_to_bigraph` and
    `dgl.batch` would give them."""
    return dgl.batch(
        [
            dgl.graph(
                (torch.from_numpy(g.src), torch.from_numpy(g.dst)),
                num_nodes=g.atoms.shape[0],
            )
            for g in graphs
        ]
    )


def shipped_encoder():
    model, _ = load_checkpoint(REPO / "models" / "pretrained" / "molvis-base.pt")
    return model.encoders["structure"]


def both(encoder):
    """dgllife's GNN and readout carrying the encoder's weights (no dropout)."""
    gnn = encoder.gnn
    layers = len(gnn.gnn_layers) + 1
    size = gnn.init_context.project_node[0].out_features
    steps = len(encoder.readout.readouts)
    reference_gnn = ReferenceGNN(ATOM_FEATURES, BOND_FEATURES, layers, size, 0.0)
    reference_readout = ReferenceReadout(size, steps, 0.0)
    reference_gnn.load_state_dict(gnn.state_dict())
    reference_readout.load_state_dict(encoder.readout.state_dict())
    return reference_gnn, reference_readout


def molecules(n: int) -> list[MolGraph]:
    return [g for g in featurize_all(EDGE_CASES + library_smiles(n)) if g is not None]


def test_same_seed_gives_dgllifes_initial_weights():
    torch.manual_seed(7)
    ours = (
        AttentiveFPGNN(ATOM_FEATURES, BOND_FEATURES, 3, 64, 0.1),
        AttentiveFPReadout(64, 2, 0.1),
    )
    torch.manual_seed(7)
    theirs = (ReferenceGNN(ATOM_FEATURES, BOND_FEATURES, 3, 64, 0.1), ReferenceReadout(64, 2, 0.1))
    for mine, reference in zip(ours, theirs, strict=True):
        a, b = mine.state_dict(), reference.state_dict()
        assert list(a) == list(b)
        assert all(torch.equal(a[k], b[k]) for k in a)


def run(gnn, readout, graphs: list[MolGraph], reference: bool) -> torch.Tensor:
    if reference:
        g = reference_graph(graphs)
        atoms = torch.from_numpy(np.concatenate([m.atoms for m in graphs]))
        bonds = torch.from_numpy(np.concatenate([m.bonds for m in graphs]))
        return readout(g, gnn(g, atoms, bonds))
    g = batch(graphs)
    return readout(g, gnn(g))


def test_shipped_weights_give_dgllifes_molecule_vectors():
    encoder = shipped_encoder().eval()
    reference = both(encoder)
    graphs = molecules(500)
    with torch.inference_mode():
        ours = run(encoder.gnn, encoder.readout, graphs, reference=False)
        theirs = run(*reference, graphs, reference=True)
    assert ours.shape == (len(graphs), encoder.readout.readouts[0].gru.hidden_size)
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=1e-5)
    # a molecule's vector does not depend on its batch neighbours
    alone = run(encoder.gnn, encoder.readout, graphs[3:4], reference=False)
    assert torch.allclose(alone[0], ours[3], atol=1e-5)


def test_gradients_equal_dgllifes():
    encoder = shipped_encoder().train()
    for module in encoder.modules():  # dropout off, so both see the same arithmetic
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    reference = both(encoder)
    graphs = molecules(64)
    target = torch.randn(len(graphs), encoder.readout.readouts[0].gru.hidden_size)
    grads = []
    for gnn, readout, is_reference in (
        (encoder.gnn, encoder.readout, False),
        (*reference, True),
    ):
        loss = ((run(gnn, readout, graphs, is_reference) - target) ** 2).mean()
        params = list(gnn.parameters()) + list(readout.parameters())
        grads.append(torch.autograd.grad(loss, params))
    for mine, theirs in zip(*grads, strict=True):
        assert torch.allclose(mine, theirs, atol=1e-5, rtol=1e-4)
