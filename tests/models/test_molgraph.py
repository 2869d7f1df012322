"""The hand-written graph featurizer against dgllife's (the reference it replaces for speed),
and the streamed backfill with featurisation in worker processes."""

import numpy as np
import pytest
import torch
from dgllife.utils import (
    BaseAtomFeaturizer,
    BaseBondFeaturizer,
    ConcatFeaturizer,
    atom_formal_charge_one_hot,
    atom_hybridization_one_hot,
    atom_is_aromatic,
    atom_total_num_H_one_hot,
    atom_type_one_hot,
    bond_is_conjugated,
    bond_is_in_ring,
    bond_type_one_hot,
    smiles_to_bigraph,
)

from models.config import load_config
from models.embed import backfill, embed_smiles
from models.model import MultiModalModel
from models.molgraph import (
    ATOM_FEATURES,
    ATOM_TYPES,
    BOND_FEATURES,
    batch,
    featurize,
    featurize_all,
)
from tests.conftest import REPO, library_smiles

REFERENCE_ATOMS = BaseAtomFeaturizer(
    {
        "h": ConcatFeaturizer(
            [
                lambda a: atom_type_one_hot(a, list(ATOM_TYPES), encode_unknown=True),
                lambda a: atom_formal_charge_one_hot(a, list(range(-2, 3)), encode_unknown=True),
                atom_hybridization_one_hot,
                lambda a: atom_total_num_H_one_hot(a, list(range(5)), encode_unknown=True),
                atom_is_aromatic,
            ]
        )
    }
)
REFERENCE_BONDS = BaseBondFeaturizer(
    {"e": ConcatFeaturizer([bond_type_one_hot, bond_is_in_ring, bond_is_conjugated])},
    self_loop=False,
)
EDGE_CASES = [
    "CCO",
    "[Na+].[Cl-]",  # no bonds
    "[Fe+3]",  # charge outside -2..2
    "[U]",  # element outside the list
    "[Xe]",
    "[C-2]",
    "[SiH4]",
    "FS(F)(F)(F)(F)F",  # sp3d2
    "C[N+](C)(C)C",
    "[O-][N+](=O)c1ccccc1",
    "C#N",
    "[2H]C([2H])([2H])O",
    "C[C@H](N)C(=O)O",
    "c1ccc2c(c1)[se]c1ccccc12",
    "[H][H]",
    "CC(=O)[O-].[K+]",
]


@pytest.mark.parametrize("chunk", [EDGE_CASES, "library"])
def test_features_equal_dgllife_bit_for_bit(chunk):
    smiles = library_smiles(300) if chunk == "library" else chunk
    together = featurize_all([*smiles, "not a smiles"])  # one-hot for the batch, then split
    assert together[-1] is None
    for s, graph in zip(smiles, together, strict=False):
        ours = batch([graph])
        reference = smiles_to_bigraph(
            s, node_featurizer=REFERENCE_ATOMS, edge_featurizer=REFERENCE_BONDS
        )
        assert torch.equal(ours.atoms, reference.ndata["h"]), s
        assert ours.atoms.shape[1] == ATOM_FEATURES
        if reference.num_edges():
            assert torch.equal(ours.bonds, reference.edata["e"]), s
        assert ours.bonds.shape == (reference.num_edges(), BOND_FEATURES)
        for mine, theirs in zip((ours.src, ours.dst), reference.edges(), strict=True):
            assert torch.equal(mine, theirs.long()), s


def test_batched_graph_embeds_like_single_graphs():
    torch.manual_seed(0)
    model = MultiModalModel(load_config(REPO / "models" / "configs" / "tiny.yaml")).eval()
    smiles = ["CCO", "[Na+].[Cl-]", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
    with torch.inference_mode():
        together = model.embed("structure", batch([featurize(s) for s in smiles]))
        alone = torch.cat([model.embed("structure", batch([featurize(s)])) for s in smiles])
    assert torch.allclose(together, alone, atol=1e-5)


def test_unparsable_smiles_is_a_value_error():
    with pytest.raises(ValueError, match="RDKit cannot parse SMILES 'C1CC'"):
        featurize("C1CC")


def test_backfill_in_worker_processes_matches_inline():
    torch.manual_seed(0)
    model = MultiModalModel(load_config(REPO / "models" / "configs" / "tiny.yaml")).eval()
    smiles = library_smiles(40) + ["not a smiles"]
    batches = [list(enumerate(smiles))[i : i + 8] for i in range(0, len(smiles), 8)]
    written: dict[int, np.ndarray] = {}

    def write(ids, vectors):
        written.update(zip(ids, vectors, strict=True))

    counts = backfill(batches, model, write, torch.device("cpu"), workers=2)
    assert (counts.embedded, counts.skipped) == (40, 1)
    ok, inline = embed_smiles(model, smiles, torch.device("cpu"))
    assert ok.tolist() == [True] * 40 + [False]
    assert np.allclose(np.stack([written[i] for i in range(40)]), inline, atol=1e-5)
