"""Files streamed from disk read exactly as the same bytes held in memory, and a large file is
never held whole: the parsers see its lines as they go by."""

import bz2
import gzip
import tracemalloc

import pytest

from registry.ingest.files import iter_members, member_from_bytes
from registry.ingest.parsers import ParseError
from registry.ingest.parsers.msms import parse_msms
from registry.ingest.parsers.structures import parse_structures
from tests.builders import mgf_block

MSP = 'Name: ethanol\nSMILES: CCO\nPrecursorMZ: 47.0491\nNum Peaks: 2\n30.0 10\n45.0 100 "é"\n\n'
SDF = (
    "ethanol\n  RDKit\n\n  3  2  0  0  0  0  0  0  0  0999 V2000\n"
    "    0.0000    0.0000    0.0000 C   0  0\n    0.0000    0.0000    0.0000 C   0  0\n"
    "    0.0000    0.0000    0.0000 O   0  0\n  1  2  1  0\n  2  3  1  0\nM  END\n"
    "> <ID>\nE1\n\n$$$$\n"
)
CASES = {
    "lib.mgf": mgf_block("ethanol", "CCO", "47.049", ["30.0 10", "45.0 100"]) * 3,
    "lib.msp": MSP * 3,
    "lib.sdf": SDF * 2 + SDF.replace("$$$$\n", ""),  # the last record without its $$$$
    "lib.smi": "CCO ethanol\n\nc1ccccc1O phénol\nC1CC( broken\n",
    "lib.csv": "name;smiles\nethanol;CCO\nphénol;c1ccccc1O\n",
}


def _records(parsed):
    return [
        (p.record_no, p.line_no, p.raw_text, p.reason, p.location, repr(p.record)) for p in parsed
    ]


def _parse(name, member):
    return (
        parse_structures(member) if name.endswith((".sdf", ".smi", ".csv")) else parse_msms(member)
    )


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize(
    ("suffix", "encode"),
    [
        ("", lambda t: t.encode("utf-8")),
        (".gz", lambda t: gzip.compress(t.replace("\n", "\r\n").encode("utf-8-sig"))),
        (".bz2", lambda t: bz2.compress(t.encode("latin-1"))),
    ],
    ids=["utf8", "gz-crlf-bom", "bz2-latin1"],
)
def test_a_streamed_file_parses_like_the_same_bytes_in_memory(tmp_path, name, suffix, encode):
    data = encode(CASES[name])
    path = tmp_path / (name + suffix)
    path.write_bytes(data)
    (streamed,) = iter_members(path)
    held = member_from_bytes(str(path), data)
    assert streamed.inner_name == held.inner_name == str(tmp_path / name)
    assert streamed.text == held.text
    records = _records(_parse(name, streamed))
    assert records == _records(_parse(name, held))
    assert len(records) == (2 if name == "lib.csv" else 3)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"   \n\n", "empty file"), (b"BEGIN IONS\n\x00\x01", "binary content")],
)
def test_a_streamed_file_is_checked_before_it_is_read(tmp_path, content, message):
    path = tmp_path / "bad.mgf.gz"
    path.write_bytes(gzip.compress(content))
    with pytest.raises(ParseError, match=f"bad.mgf.gz line 1: {message}"):
        list(iter_members(path))


def test_damaged_compression_is_a_file_error(tmp_path):
    path = tmp_path / "cut.smi.gz"
    whole = gzip.compress("".join(f"CCO {i}\n" for i in range(50_000)).encode())
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ParseError, match=r"cut.smi.gz: damaged \.gz compression"):
        list(iter_members(path))


@pytest.mark.parametrize("name", ["big.smi", "big.mgf", "big.csv"])
def test_parsing_a_large_file_does_not_hold_it(tmp_path, name):
    if name == "big.mgf":
        text = mgf_block("x", "CCO", "47.049", ["30.0 10", "45.0 100"]) * 20_000
    elif name == "big.csv":
        text = "smiles,name\n" + "CC(=O)Nc1ccc(O)cc1,paracetamol\n" * 150_000
    else:
        text = "CC(=O)Nc1ccc(O)cc1 paracetamol\n" * 150_000
    path = tmp_path / (name + ".gz")
    path.write_bytes(gzip.compress(text.encode()))
    assert len(text) > 2_000_000
    (member,) = iter_members(path)
    tracemalloc.start()
    try:
        count = sum(1 for _ in _parse(name, member))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count in (20_000, 150_000)
    # held whole, the text alone is len(text) bytes and its list of lines several times that
    assert peak < len(text) / 2, f"peak {peak / 1e6:.1f} MB while parsing {len(text) / 1e6:.1f} MB"
