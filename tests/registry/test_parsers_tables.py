import gzip

import pytest

from registry.ingest.parsers import ParseError
from registry.ingest.parsers.ccs import parse_ccs
from registry.ingest.parsers.structures import parse_structures
from registry.ingest.parsers.tables import parse_column_overrides
from tests.builders import member
from tests.conftest import shared


def ccs_slice(n: int) -> str:
    with gzip.open(shared("ccs", "ccs_combined.tsv.gz"), "rt") as handle:
        return "".join(next(handle) for _ in range(n + 1))


def test_combined_ccs_table_slice():
    parsed = list(parse_ccs(member(ccs_slice(300), "ccs.tsv")))
    assert len(parsed) == 300
    good = [p.record for p in parsed if p.record]
    assert len(good) >= 290
    first = good[0]
    assert first.adduct == "[M-H]-" and first.ccs == pytest.approx(189.84)
    assert first.mz == pytest.approx(556.9663) and first.method == "DT"
    assert first.metadata["source"].startswith("C3SDB")
    assert "ref" in first.metadata["extra"]


def test_pnnl_wide_layout():
    text = shared("ccs", "raw", "pnnl_metabolomicsccs", "metabolitedata.tsv").read_text()
    parsed = list(parse_ccs(member(text, "metabolitedata.tsv")))
    adducts = {p.record.adduct for p in parsed if p.record}
    assert {"[M+H]+", "[M-H]-", "[M+Na]+"} <= adducts
    serine = [p.record for p in parsed if p.record and p.record.structure.names == ["L-Serine"]]
    assert serine[0].structure.given_inchikey == "MTCFGRXMJLQNBG-REOHCLBHSA-N"
    assert serine[0].ccs == pytest.approx(136.6640161)


def test_column_override_for_odd_headers():
    text = "SMI\tIon\tCCS_N2_A2\tMZ\nCCO\t[M+H]+\t120.5\t47.049\n"
    with pytest.raises(ParseError, match="no ccs column"):
        list(parse_ccs(member(text, "odd.tsv")))
    columns = parse_column_overrides("smiles=SMI,adduct=Ion,ccs=CCS_N2_A2")
    (parsed,) = parse_ccs(member(text, "odd.tsv"), columns=columns)
    assert parsed.record.ccs == 120.5 and parsed.record.mz == pytest.approx(47.049)
    with pytest.raises(ValueError, match="FIELD=COLUMN"):
        parse_column_overrides("ccs")
    with pytest.raises(ParseError, match="no column 'nope'"):
        list(parse_ccs(member(text, "odd.tsv"), columns={"ccs": "nope"}))


@pytest.mark.parametrize(
    "ccs, reason",
    [
        ("abc", "not a number"),
        ("-4", "outside"),
        ("1e308", "outside"),
        ("nan", "no CCS"),
        ("", "no CCS"),
    ],
)
def test_bad_ccs_values_are_rejected(ccs, reason):
    text = f"smiles,adduct,ccs\nCCO,[M+H]+,{ccs}\nCCCO,[M+H]+,130\n"
    first, second = parse_ccs(member(text, "t.csv"))
    assert reason in first.reason and second.record is not None


def test_table_without_structure_column():
    with pytest.raises(ParseError, match="no structure column"):
        list(parse_ccs(member("name,ccs,adduct\nx,100,[M+H]+\n", "t.csv")))


def test_structure_files():
    smi = "smiles\nCCO ethanol\nc1ccccc1 benzene\n"
    assert [p.record.structure.text for p in parse_structures(member(smi, "lib.smi"))] == [
        "CCO",
        "c1ccccc1",
    ]
    with gzip.open(shared("library", "test.csv.gz"), "rt") as handle:
        head = "".join(next(handle) for _ in range(51))
    parsed = list(parse_structures(member(head, "test.csv")))
    assert len(parsed) == 50 and all(p.record for p in parsed)
    inchis = "InChI=1S/CH4/h1H4\nInChI=1S/C2H6/c1-2/h1-2H3\n"
    assert len(list(parse_structures(member(inchis, "list.inchi")))) == 2


def test_sdf_with_a_truncated_record():
    from rdkit import Chem

    block = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    text = f"{block}>  <ID>\nETOH\n\n$$$$\n{block.split('M  END')[0]}$$$$\n"
    first, second = parse_structures(member(text, "x.sdf"))
    assert first.record.record_id == "ETOH"
    assert "truncated" in second.reason
    with pytest.raises(ParseError, match="not an SDF"):
        list(parse_structures(member("hello\n", "x.sdf")))
