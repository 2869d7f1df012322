"""A measurement's content hash is how a registry knows it already holds a spectrum or a CCS
value: it must not change between versions, or re-ingesting a file would store it twice."""

import numpy as np

from registry.ingest.measurement_rows import content_hash, copy_types
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
    """Values computed by the code of 2026-12-04 (registry/ingest/store.py then), pinned."""
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


def test_the_hash_reads_values_to_their_stated_precision():
    """m/z and relative intensities to 4 decimals, IR wavenumbers to 4 and absorbances to 6,
    a missing precursor as 0: differences below those are the same measurement."""
    import dataclasses

    msms, ir, _ = _records()
    same = dataclasses.replace(msms, mz=msms.mz + 0.00003)
    assert content_hash(same, ETHANOL) == content_hash(msms, ETHANOL)
    rel = msms.intensity / msms.intensity.max()
    nudged = dataclasses.replace(msms, intensity=(rel + np.array([0.00003, 0, 0])) * 100)
    assert content_hash(nudged, ETHANOL) == content_hash(msms, ETHANOL)
    moved = dataclasses.replace(msms, mz=msms.mz + 0.0003)
    assert content_hash(moved, ETHANOL) != content_hash(msms, ETHANOL)
    no_precursor = dataclasses.replace(msms, precursor_mz=None)
    zero = dataclasses.replace(msms, precursor_mz=0.0)
    assert content_hash(no_precursor, ETHANOL) == content_hash(zero, ETHANOL)
    assert content_hash(no_precursor, ETHANOL) != content_hash(msms, ETHANOL)
    ir_same = dataclasses.replace(ir, x=ir.x + 0.00003, y=ir.y + 0.0000003)
    assert content_hash(ir_same, ETHANOL) == content_hash(ir, ETHANOL)
    ir_other = dataclasses.replace(ir, y=ir.y + 0.000003)
    assert content_hash(ir_other, ETHANOL) != content_hash(ir, ETHANOL)


def test_a_row_carries_its_hash_and_json_safe_metadata():
    import pytest

    from registry.ingest.measurement_rows import jsonable, measurement_row

    msms, *_ = _records()
    msms.metadata = {"scores": [np.float32(1.5), float("nan")], "n": np.int64(3)}
    row = measurement_row(msms, 1, 2, 3, ETHANOL)
    assert row["content_hash"] == content_hash(msms, ETHANOL)
    assert row["metadata"] == {"scores": [1.5, None], "n": 3}
    assert jsonable((np.float64(2.0), {"x": float("inf")})) == [2.0, {"x": None}]
    with pytest.raises(TypeError, match="str"):
        content_hash("not a record", ETHANOL)
