"""Builders for test inputs: real spectra re-written in other formats, and damaged variants."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from registry.ingest.files import TextMember
from registry.records import MsmsRecord


def unit(v, width: int = 256) -> np.ndarray:
    """`v` zero-padded to `width` (the registry's 256 by default; `len(v)` for the model tests'
    small spaces) and scaled to length 1: cosines between such vectors are those of `v`."""
    full = np.zeros(width)
    full[: len(v)] = v
    return full / np.linalg.norm(full)


def member(text: str, name: str = "test.mgf") -> TextMember:
    return TextMember(name=name, inner_name=name, text=text)


def write(tmp: Path, name: str, text: str | bytes) -> Path:
    path = tmp / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def mgf_block(title: str, smiles: str, pepmass: str, peaks: list[str], **extra: str) -> str:
    keys = {
        "TITLE": title,
        "SMILES": smiles,
        "PEPMASS": pepmass,
        "IONMODE": "positive",
        "ADDUCT": "[M+H]+",
        **extra,
    }
    lines = ["BEGIN IONS", *(f"{k}={v}" for k, v in keys.items()), *peaks, "END IONS", ""]
    return "\n".join(lines)


def msp_record(record: MsmsRecord, flavour: str) -> str:
    """One real spectrum as MSP in the NIST, MoNA or MS-DIAL spelling of the keys."""
    name = record.structure.names[0] if record.structure.names else record.record_id
    keys = {
        "nist": [
            ("Name", name),
            ("Precursor_type", record.adduct),
            ("Ion_mode", "N"),
            ("PrecursorMZ", record.precursor_mz),
            ("Collision_energy", "35"),
            ("InChIKey", record.structure.given_inchikey or ""),
            ("SMILES", record.structure.text),
        ],
        "mona": [
            ("Name", name),
            ("Precursor_type", record.adduct),
            ("Spectrum_type", "MS2"),
            ("PrecursorMZ", record.precursor_mz),
            ("Ion_mode", "N"),
            ("Instrument_type", "LC-ESI-QFT"),
            ("SMILES", record.structure.text),
        ],
        "msdial": [
            ("NAME", name),
            ("PRECURSORMZ", record.precursor_mz),
            ("PRECURSORTYPE", record.adduct),
            ("IONMODE", "Negative"),
            ("SMILES", record.structure.text),
            ("COLLISIONENERGY", "35"),
        ],
    }[flavour]
    lines = [f"{k}: {v}" for k, v in keys]
    lines.append(f"Num Peaks: {record.mz.size}")
    if flavour == "mona":
        pairs = [f"{m:.5f} {i:.3f}" for m, i in zip(record.mz, record.intensity, strict=True)]
        lines.extend("; ".join(pairs[i : i + 5]) for i in range(0, len(pairs), 5))
    else:
        lines.extend(f"{m:.5f}\t{i:.3f}" for m, i in zip(record.mz, record.intensity, strict=True))
    return "\n".join(lines) + "\n\n"
