"""Query records (unknown spectra, CCS values) into query vectors of a model."""

from __future__ import annotations

import torch

from models.embed import embed_inputs
from models.featurize import spectrum_tensor
from models.model import MultiModalModel
from registry.records import IrRecord, MsmsRecord


def msms_vector(model: MultiModalModel, record: MsmsRecord, device: torch.device):
    c = model.config.msms
    tensor = spectrum_tensor(
        record.mz,
        record.intensity,
        record.precursor_mz or 0.0,
        record.adduct,
        record.ion_mode,
        record.instrument_type,
        record.collision_energy,
        c.max_peaks,
        c.remove_precursor_peaks,
    )
    return embed_inputs(model, "msms", [tensor], device)[0]


def ir_vector(model: MultiModalModel, record: IrRecord, device: torch.device):
    return embed_inputs(
        model, "ir", [torch.from_numpy(record.processed.astype("float32"))], device
    )[0]


def ccs_vector(
    model: MultiModalModel, ccs: float, mz: float | None, adduct: str, device: torch.device
):
    return embed_inputs(model, "ccs", [(ccs, mz, adduct)], device)[0]
