"""A measurement's content hash is how a registry knows it already holds a spectrum or a CCS
value: it must not change between versions, or re-ingesting a file would store it twice."""

import numpy as np

from registry.measurement_rows import content_hash, copy_types
from registry.records import CcsRecord, IrRecord, MsmsRecord, StructureRef

ETHANOL = "LFQSCWFLJHTTHZ-UHFFFAOYSA-N"


def _records(scale: float = 1.0):
    structure = StructureRef("CCO")
    msms = MsmsRecord(
        structure=structure,
        record_id="x",
        precursor_mz=47.04914,
        adduct="[M+H]+",
        ion_mode="positive",
        instrument_type="QTOF",
        collision_energy="20",
        mz=np.array([29.0386, 31.0178, 47.0491]),
        intensity=np.array([15.0, 100.0, 42.5]) * scale,
    )
    ir = IrRecord(
        structure=structure,
        record_id="x",
        title="t",
        x=np.array([4000.0, 3999.5]),
        y=np.array([0.91, 0.905]),
        x_units="1/CM",
        y_units="TRANSMITTANCE",
        state="gas",
        processed=np.zeros(3),
    )
    ccs = CcsRecord(
        structure=structure,
        record_id="x",
        ccs=131.456,
        adduct="[M+Na]+",
        mz=69.03,
        method="DTIMS",
        drift_gas="N2",
    )
    return msms, ir, ccs


def test_content_hashes_are_those_of_earlier_versions():
    """Values computed by the code of 2026-12-04 (registry/store.py then), pinned."""
    assert [content_hash(r, ETHANOL)[:16] for r in _records()] == [
        "1144d4783edb7607",
        "ddd4d4f127fe4739",
        "933993923120783f",
    ]


def test_a_spectrum_scaled_in_intensity_is_the_same_measurement():
    msms, *_ = _records()
    scaled, *_ = _records(scale=7.0)
    assert content_hash(msms, ETHANOL) == content_hash(scaled, ETHANOL)
    assert content_hash(msms, ETHANOL) != content_hash(msms, "OKKJLVBELUTLKV-UHFFFAOYSA-N")


def test_every_measurement_table_has_its_copy_types():
    for table in ("msms_spectrum", "ir_spectrum", "ccs_value"):
        types = copy_types(table)
        assert types["compound_id"] == "int8" and types["metadata"] == "jsonb"
    assert copy_types("msms_spectrum")["mz"] == "bytea"  # the binary array, made here
