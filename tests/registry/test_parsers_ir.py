import numpy as np
import pytest

from registry.chem.identity import identify
from registry.chem.ir_grid import IR_GRID, ir_grid_vector
from registry.ingest.files import iter_members
from registry.ingest.parsers import ParseError, RecordError
from registry.ingest.parsers.ir import StructureIndex, parse_jcamp
from tests.builders import member, write
from tests.conftest import shared


def jcamp_text(x, y, xunits="1/CM", yunits="ABSORBANCE", extra=""):
    lines = [
        "##TITLE=test",
        "##JCAMP-DX=4.24",
        "##DATA TYPE=INFRARED SPECTRUM",
        f"##XUNITS={xunits}",
        f"##YUNITS={yunits}",
        "##XFACTOR=1",
        "##YFACTOR=1",
        f"##FIRSTX={x[0]}",
        f"##LASTX={x[-1]}",
        f"##NPOINTS={len(x)}",
        extra,
        "##XYDATA=(X++(Y..Y))",
    ]
    lines += [f"{a} {b}" for a, b in zip(x, y, strict=True)]
    lines.append("##END=")
    return "\n".join(line for line in lines if line) + "\n"


def test_grid_is_the_method_grid():
    assert IR_GRID.size == 825 and IR_GRID[0] == 550 and IR_GRID[-1] == 3846


def test_every_shared_jcamp_file_parses_with_the_index():
    index = StructureIndex.from_table(shared("ir", "index.tsv"))
    files = sorted(shared("ir", "jcamp").glob("*.jdx"))
    assert len(files) == 64
    units = set()
    for path in files:
        (text_member,) = iter_members(path)
        (parsed,) = parse_jcamp(text_member, index=index)
        assert parsed.record is not None, parsed.reason
        vector = parsed.record.processed
        assert vector.shape == (825,) and np.isclose(np.linalg.norm(vector), 1.0)
        units.add((parsed.record.x_units, parsed.record.y_units))
    assert ("1/CM", "TRANSMITTANCE") in units and ("1/CM", "ABSORBANCE") in units


def test_index_maps_by_cas_through_the_nist_id_table():
    index = StructureIndex.from_table(
        shared("ir", "nist_ir_structure_index", "nist_gas_ir_inchi.csv")
    )
    (text_member,) = iter_members(shared("ir", "jcamp", "toluene.jdx"))
    (parsed,) = parse_jcamp(text_member, index=index)
    assert identify(parsed.record.structure.text).inchikey == "YXFVVABEGXRONW-UHFFFAOYSA-N"


def test_transmittance_and_micrometres_give_the_same_vector():
    wn = np.arange(500.0, 4000.0, 2.0)
    absorbance = np.exp(-(((wn - 1700) / 30) ** 2)) + 0.5 * np.exp(-(((wn - 2950) / 40) ** 2))
    reference = ir_grid_vector(wn, absorbance, "1/CM", "ABSORBANCE")
    percent_t = 100 * 10 ** (-absorbance)
    assert np.allclose(ir_grid_vector(wn, percent_t, "1/CM", "TRANSMITTANCE"), reference, atol=1e-6)
    assert np.allclose(
        ir_grid_vector(1e4 / wn, absorbance, "MICROMETERS", "ABSORBANCE"), reference, atol=1e-6
    )
    assert np.argmax(reference) == np.argmin(np.abs(IR_GRID - 1700))


def test_out_of_range_and_flat_spectra_are_refused():
    wn = np.arange(3000.0, 4000.0, 2.0)
    with pytest.raises(RecordError, match="under half"):
        ir_grid_vector(wn, np.ones_like(wn), "1/CM", "ABSORBANCE")
    wn = np.arange(500.0, 4000.0, 2.0)
    with pytest.raises(RecordError, match="flat"):
        ir_grid_vector(wn, np.zeros_like(wn), "1/CM", "ABSORBANCE")
    with pytest.raises(RecordError, match="unknown IR y units"):
        ir_grid_vector(wn, np.ones_like(wn), "1/CM", "COUNTS")


def test_structure_from_the_file_itself():
    x = list(range(500, 4000, 10))
    y = [0.1 + (i % 7) / 10 for i in range(len(x))]
    text = jcamp_text(x, y, extra="##$SMILES=CCO")
    (parsed,) = parse_jcamp(member(text, "ethanol.jdx"))
    assert parsed.record.structure.text == "CCO"


def test_missing_structure_is_a_reject_with_advice():
    x = list(range(500, 4000, 10))
    (parsed,) = parse_jcamp(member(jcamp_text(x, [0.5] * len(x)), "x.jdx"))
    assert "structure index" in parsed.reason


@pytest.mark.parametrize(
    "text, message",
    [("", "empty file"), ("BEGIN IONS\nPEPMASS=1\n", "not a JCAMP-DX file")],
)
def test_wrong_format(text, message):
    with pytest.raises(ParseError, match=message):
        list(parse_jcamp(member(text, "x.jdx")))


def test_header_without_data_is_rejected():
    (parsed,) = parse_jcamp(
        member("##TITLE=x\n##XUNITS=1/CM\n##YUNITS=ABSORBANCE\n##END=\n", "x.jdx")
    )
    assert parsed.reason


def test_compressed_jcamp_in_gzip(tmp_path):
    import gzip

    raw = shared("ir", "jcamp", "toluene.jdx").read_bytes()
    path = write(tmp_path, "toluene.jdx.gz", gzip.compress(raw))
    index = StructureIndex.from_table(shared("ir", "index.tsv"))
    (text_member,) = iter_members(path)
    (parsed,) = parse_jcamp(text_member, index=index)
    assert parsed.record.title == "Toluene"
