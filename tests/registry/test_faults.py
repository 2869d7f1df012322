"""Bad input, faults and concurrency: every bad record is one reject with its reason, the rest
of the file loads, `--json` stays JSON, and parallel ingests both succeed."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from registry.db.connection import session_scope
from registry.ingest.files import decode
from registry.ingest.parsers import ParseError
from registry.ingest.parsers.ir import parse_jcamp
from registry.ingest.parsers.tables import read_table
from registry.ingest.summary import IngestOptions
from tests.builders import member, mgf_block, write
from tests.conftest import TABLES, count, first_mgf_blocks, ingest, molvis, shared

PEAKS = ["30.0 10", "45.0 100"]
JCAMP = """##TITLE=test spectrum
##JCAMP-DX=4.24
##DATA TYPE=INFRARED SPECTRUM
##$SMILES=c1ccccc1
##XUNITS=1/CM
##YUNITS=ABSORBANCE
##XFACTOR={xfactor}
##YFACTOR=1
##FIRSTX=600
##LASTX=3800
##NPOINTS={npoints}
##XYDATA=(X++(Y..Y))
{xydata}
##END=
"""


def jcamp(xfactor="1", npoints="801", xydata=None) -> str:
    rows = (
        xydata
        or "\n".join(
            f"{600 + 4 * i * 10} " + " ".join(str(0.1 + 0.001 * (i * 10 + j)) for j in range(10))
            for i in range(80)
        )
        + "\n3800 0.9"
    )
    return JCAMP.format(xfactor=xfactor, npoints=npoints, xydata=rows)


def test_a_valid_jcamp_still_loads():
    (parsed,) = parse_jcamp(member(jcamp(), "ok.jdx"))
    assert parsed.record is not None, parsed.reason


@pytest.mark.parametrize(
    "text, reason",
    [
        (jcamp(xfactor="0"), "unreadable"),
        (jcamp(xydata="600 0.1 zz 0.3\n604 junk"), "unreadable"),
        (jcamp(npoints="999999999999"), "##NPOINTS=999,999,999,999 is more than molvis reads"),
    ],
)
def test_a_damaged_jcamp_is_one_reject(text, reason, capsys):
    (parsed,) = parse_jcamp(member(text, "bad.jdx"))
    assert parsed.record is None and reason in parsed.reason
    assert capsys.readouterr().out == ""  # the jcamp package's prints are swallowed


def test_jcamp_faults_keep_json_valid_and_the_folder_loading(engine, tmp_path):
    folder = tmp_path / "ir"
    folder.mkdir()
    write(folder, "ok.jdx", jcamp())
    write(folder, "xfactor.jdx", jcamp(xfactor="0"))
    write(folder, "huge.jdx", jcamp(npoints="999999999999"))
    result = molvis("ingest", "ir", str(folder), "--source", "lab", "--json")
    report = json.loads(result.stdout)
    by_name = {f["file"].rsplit("/", 1)[1]: f for f in report["files"]}
    assert by_name["ok.jdx"]["inserted"] == 1
    assert by_name["huge.jdx"]["rejected"] == by_name["xfactor.jdx"]["rejected"] == 1
    assert "Traceback" not in result.stderr


def test_a_nul_byte_past_64_kb_rejects_its_record_only(engine, tmp_path):
    filler = "".join(mgf_block(f"s{n}", "CCO", "47.049", PEAKS) for n in range(700))
    assert len(filler) > 65536
    bad = mgf_block("bad\x00title", "CCC", "61.065", PEAKS)
    after = mgf_block("after", "CCCC", "59.0855", PEAKS)
    summary = ingest(engine, "msms", write(tmp_path, "nul.mgf", filler + bad + after), "lab")
    assert summary.status == "loaded" and summary.rejected == 1
    with engine.connect() as conn:
        reason, raw = conn.execute(text("SELECT reason, raw_text FROM rejected_record")).one()
    assert "NUL byte" in reason and "bad\\0title" in raw
    assert count(engine, "compound") == 2  # ethanol and butane; propane was the bad one


def test_a_huge_record_is_kept_as_a_bounded_prefix(engine, tmp_path):
    block = mgf_block("huge", "C1CC(", "47.049", PEAKS + ["1 1"] * 100_000)
    summary = ingest(engine, "msms", write(tmp_path, "huge.mgf", block), "lab")
    assert summary.rejected == 1
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT raw_text FROM rejected_record")).scalar_one()
    assert len(raw) < 21_000 and raw.endswith(f"of {len(block.rstrip()):,} not kept]")


def test_missing_fingerprints_are_filled_by_the_next_ingest(engine, tmp_path):
    path = write(tmp_path, "s.smi", "CCO ethanol\nc1ccccc1 benzene\n")
    ingest(engine, "structures", path, "lib")
    with session_scope(engine) as session:  # as if the first run died before its fingerprints
        session.execute(text("UPDATE compound SET fingerprint = NULL"))
    again = ingest(engine, "structures", path, "lib")
    assert (again.status, again.fingerprints) == ("unchanged", 2)
    with engine.connect() as conn:
        missing = conn.execute(text("SELECT count(*) FROM compound WHERE fingerprint IS NULL"))
        assert missing.scalar_one() == 0


@pytest.mark.slow
def test_three_parallel_ingests_of_overlapping_files_all_succeed(engine, tmp_path):
    """Real MassBank spectra in three overlapping slices, ingested at once (without the
    ingest lock: a KeyError or a deadlock). Each compound and spectrum ends up stored once."""
    text_ = first_mgf_blocks(shared("massbank", "massbank_ms2.mgf.gz"), 3000)
    blocks = [b + "END IONS\n" for b in text_.split("END IONS\n") if b.strip()]
    slices = [(0, 2000), (1000, 3000), (500, 2500)]
    files = [
        write(tmp_path, f"part{i}.mgf", "".join(reversed(blocks[a:b]) if i == 1 else blocks[a:b]))
        for i, (a, b) in enumerate(slices)
    ]
    ingest(engine, "msms", write(tmp_path, "all.mgf", "".join(blocks)), "all")
    expected = {t: count(engine, t) for t in ("compound", "msms_spectrum")}
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "molvis", "ingest", "msms", str(f), "--source", f"lab{i}"]
            + ["--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, f in enumerate(files)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        assert json.loads(out)["files"][0]["status"] == "loaded"
    assert {t: count(engine, t) for t in expected} == expected
    assert count(engine, "ingest_run") == 3


def test_utf16_semicolon_and_doubled_column_tables():
    utf16 = "smiles;adduct;ccs\nCCO;[M+H]+;110.2\n".encode("utf-16")
    text_ = decode(utf16, "lab.csv")
    table = read_table(member(text_, "lab.csv"))
    assert list(table.columns) == ["smiles", "adduct", "ccs"] and table.iloc[0]["ccs"] == "110.2"
    with pytest.raises(ParseError, match="column 'ccs' appears more than once"):
        read_table(member("smiles,ccs,ccs\nCCO,1,2\n", "dup.csv"))


def test_msp_annotation_with_a_semicolon_and_an_unknown_adduct(engine, tmp_path):
    from registry.ingest.parsers.msp import parse_msp

    text_ = (
        "Name: ethanol\nSMILES: CCO\nPrecursorMZ: 47.0491\nPrecursor_type: [M+Foo]+\n"
        'Num Peaks: 2\n30.0 10 "frag; a"\n45.0 100 "M-H2O; b"\n'
    )
    (parsed,) = parse_msp(member(text_, "lib.msp"))
    assert parsed.record is not None, parsed.reason
    assert list(parsed.record.mz) == [30.0, 45.0]
    assert parsed.record.adduct == "[M+Foo]+"  # as written; normalize.py sets it aside
    summary = ingest(engine, "msms", write(tmp_path, "lib.msp", text_), "lab")
    with engine.connect() as conn:
        adduct, kept = conn.execute(text("SELECT adduct, metadata FROM msms_spectrum")).one()
    assert summary.inserted == 1 and adduct == "[M+H]+"  # inferred from the precursor
    assert kept["adduct_unreadable"] == "[M+Foo]+" and kept["adduct_inferred"] is True


def test_an_empty_folder_says_so(engine, tmp_path):
    (tmp_path / "empty").mkdir()
    result = molvis("ingest", "msms", str(tmp_path / "empty"), "--source", "lab", "--json")
    assert result.returncode == 1 and "no msms files in" in result.stderr
    assert json.loads(result.stdout) == {"files": []}


def test_structure_option_defaults(engine, tmp_path):
    options = IngestOptions(fingerprints=False)
    summary = ingest(engine, "structures", write(tmp_path, "s.smi", "CCO\n"), "lib", options)
    assert summary.fingerprints == 0


def test_an_edited_record_supersedes_its_old_version_and_rejects_are_kept_once(engine, tmp_path):
    from registry.learned.embeddings import write_measurement_embeddings
    from registry.learned.versions import register_model
    from registry.read.measurements import read_measurements

    bad = mgf_block("broken", "C1CC(", "47.049", ["30.0 10", "44.0 50"])
    v1 = mgf_block("ethanol", "CCO", "47.049", PEAKS, SPECTRUMID="MSBNK-TEST-0001") + bad
    v2 = v1.replace("45.0 100", "45.0 90")  # one peak corrected upstream
    first = ingest(engine, "msms", write(tmp_path, "v1.mgf", v1), "massbank")
    with session_scope(engine) as session:
        model = register_model(session, "m", "v", "-", {}, {}, True)
        old_id = session.execute(text("SELECT id FROM msms_spectrum")).scalar_one()
        write_measurement_embeddings(
            session, model.id, "msms", [old_id], [1], [[1.0] + [0.0] * 255]
        )
    second = ingest(engine, "msms", write(tmp_path, "v2.mgf", v2), "massbank")
    assert (first.inserted, first.rejected) == (1, 1)
    assert (second.inserted, second.superseded, second.rejected) == (1, 1, 1)
    assert count(engine, "rejected_record") == 1  # the unchanged broken record, once
    assert count(engine, "measurement_embedding") == 0  # the old version's vector is gone
    with session_scope(engine) as session:
        rows = session.execute(
            text("SELECT id, superseded_by FROM msms_spectrum ORDER BY id")
        ).all()
        (current,) = read_measurements(session, "msms")
    assert rows[0] == (old_id, rows[1][0]) and rows[1][1] is None
    assert current.measurement_id == rows[1][0] and list(current.intensity) == [10.0, 90.0]
    third = ingest(engine, "msms", write(tmp_path, "v2.mgf", v2), "massbank")
    assert third.status == "unchanged"
    other = ingest(engine, "msms", write(tmp_path, "lab.mgf", v1), "lab")  # another source
    assert (other.inserted, other.superseded) == (0, 0)


def test_key_only_rows_wait_for_their_compound_so_load_order_does_not_matter(engine, tmp_path):
    """A CCS row naming only L-serine's InChIKey, before and after the structure arrives."""
    ccs = write(
        tmp_path,
        "ccs.tsv",
        "inchikey\tadduct\tccs\nMTCFGRXMJLQNBG-REOHCLBHSA-N\t[M+H]+\t130.1\n",
    )
    structures = write(tmp_path, "s.smi", "N[C@@H](CO)C(O)=O L-serine\n")

    def load(order):
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        return [ingest(engine, kind, path, kind) for kind, path in order], {
            t: count(engine, t) for t in ("compound", "ccs_value", "rejected_record")
        }

    (first, later), ccs_first = load([("ccs", ccs), ("structures", structures)])
    assert (first.rejected, later.resolved) == (1, 1)
    _, structures_first = load([("structures", structures), ("ccs", ccs)])
    assert ccs_first == structures_first == {"compound": 1, "ccs_value": 1, "rejected_record": 0}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM compound_source")).scalar_one() == 2


def test_a_key_only_spectrum_waits_for_its_compound_and_keeps_its_peaks(engine, tmp_path):
    """An MS/MS spectrum naming only L-serine's InChIKey, ingested before the structure: kept
    pending with its reason, stored whole (peaks, precursor, metadata) when the structure comes,
    the same as loading them the other way round."""
    mgf = write(
        tmp_path,
        "keys.mgf",
        "BEGIN IONS\nTITLE=serine\nINCHIKEY=MTCFGRXMJLQNBG-REOHCLBHSA-N\nPEPMASS=106.0499\n"
        "ADDUCT=[M+H]+\nCOLLISION_ENERGY=20\n60.0444 100\n88.0393 20.5\n42.0338 3\nEND IONS\n",
    )
    structures = write(tmp_path, "s.smi", "N[C@@H](CO)C(O)=O L-serine\n")
    columns = "record_id, precursor_mz, adduct, mz, intensity, metadata, content_hash, source_id"

    def load(order):
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        summaries = [ingest(engine, kind, path, kind) for kind, path in order]
        with engine.connect() as conn:
            stored = conn.execute(text(f"SELECT {columns} FROM msms_spectrum")).all()
            sources = conn.execute(text("SELECT count(*) FROM compound_source")).scalar_one()
        return summaries, stored, sources, count(engine, "rejected_record")

    (first, later), spectra_first, sources, left = load([("msms", mgf), ("structures", structures)])
    assert (first.rejected, later.resolved, left, sources) == (1, 1, 0, 2)
    (_, _), structures_first, _, _ = load([("structures", structures), ("msms", mgf)])
    assert len(spectra_first) == 1
    strip = [tuple(v for k, v in zip(columns.split(", "), row, strict=True) if k != "source_id")
             for row in (spectra_first[0], structures_first[0])]  # fmt: skip
    assert strip[0] == strip[1]  # the same row whichever came first
    assert list(spectra_first[0].mz) == [42.0338, 60.0444, 88.0393]


def test_a_key_only_spectrum_whose_precursor_is_not_its_compound_s_ion_stays_a_reject(
    engine, tmp_path
):
    """The precursor check every spectrum with a structure passes at ingest also meets a
    pending one when its compound arrives: same reason, whichever file came first."""
    mgf = write(
        tmp_path,
        "wrong.mgf",
        "BEGIN IONS\nTITLE=not serine\nINCHIKEY=MTCFGRXMJLQNBG-REOHCLBHSA-N\nPEPMASS=120.0650\n"
        "ADDUCT=[M+H]+\n60.0444 100\n88.0393 20.5\nEND IONS\n",
    )
    structures = write(tmp_path, "s.smi", "N[C@@H](CO)C(O)=O L-serine\n")

    def load(order):
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        summaries = [ingest(engine, kind, path, kind) for kind, path in order]
        with engine.connect() as conn:
            kept = conn.execute(
                text("SELECT reason, pending_inchikey, pending_row FROM rejected_record")
            ).all()
        return summaries, kept, count(engine, "msms_spectrum")

    (first, later), kept, stored = load([("msms", mgf), ("structures", structures)])
    assert (first.rejected, later.resolved, stored) == (1, 0, 0)
    assert len(kept) == 1 and kept[0].pending_inchikey is None and kept[0].pending_row is None
    assert kept[0].reason.startswith(
        "precursor m/z 120.0650 is +14.0151 Da from the structure's [M+H]+ at 106.0499"
    )
    _, other_order, _ = load([("structures", structures), ("msms", mgf)])
    assert [r.reason for r in other_order] == [kept[0].reason]


def test_a_key_only_spectrum_without_precursor_takes_its_compound_s_ion_or_waits_rejected(
    engine, tmp_path
):
    mgf = write(
        tmp_path,
        "no_precursor.mgf",
        "BEGIN IONS\nTITLE=serine\nINCHIKEY=MTCFGRXMJLQNBG-REOHCLBHSA-N\nADDUCT=[M+H]+\n"
        "60.0444 100\n88.0393 20.5\nEND IONS\n",
    )
    structures = write(tmp_path, "s.smi", "N[C@@H](CO)C(O)=O L-serine\n")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    ingest(engine, "structures", structures, "structures")
    assert ingest(engine, "msms", mgf, "msms").inserted == 1
    with engine.connect() as conn:
        row = conn.execute(text("SELECT precursor_mz, metadata FROM msms_spectrum")).one()
    assert row.precursor_mz == pytest.approx(106.049869, abs=1e-5)
    assert row.metadata["precursor_mz_derived"] is True
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    summary = ingest(engine, "msms", mgf, "msms")  # nothing to derive it from: no pending row
    assert summary.rejected == 1 and "no precursor m/z" in summary.reject_examples[0]
    assert ingest(engine, "structures", structures, "structures").resolved == 0
    assert count(engine, "msms_spectrum") == 0


def test_a_reject_in_a_linked_jcamp_keeps_its_own_block():
    one = jcamp().replace("##TITLE=test spectrum", "##TITLE=first block")
    two = jcamp().replace("##TITLE=test spectrum", "##TITLE=second block")
    two = two.replace("##YUNITS=ABSORBANCE\n", "")
    text_ = "##TITLE=linked\n##JCAMP-DX=5.01\n##DATA TYPE=LINK\n##BLOCKS=2\n" + one + two
    first, second = parse_jcamp(member(text_ + "##END=\n", "link.jdx"))
    assert first.record is not None and second.reason == "missing ##XUNITS or ##YUNITS"
    assert second.raw_text.startswith("##TITLE=second block") and "##XYDATA" in second.raw_text
    assert "first block" not in second.raw_text


@pytest.mark.skipif(bool(os.environ.get("MOLVIS_DATABASE_URL")), reason="embedded server only")
def test_a_killed_embedded_server_is_restarted_by_the_next_command():
    import signal
    import tempfile

    home = tempfile.mkdtemp(prefix="molvis-killed-")
    env = {**os.environ, "MOLVIS_HOME": home}
    env.pop("MOLVIS_DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "molvis", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    try:
        assert run("db", "upgrade").returncode == 0
        pid = int((Path(home) / "pgdata" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        stats = run("stats", "--json")
        assert stats.returncode == 0 and stats.stderr == "", stats.stderr
        assert json.loads(stats.stdout)["compounds"] == 0
    finally:
        run("db", "stop")
        shutil.rmtree(home, ignore_errors=True)


def test_supersession_needs_the_same_source_and_a_real_accession(engine, tmp_path):
    """Edited content under one accession from another source is another record, and MS/MS
    records without an accession (a title only) never replace each other."""
    v1 = mgf_block("ethanol", "CCO", "47.049", PEAKS, SPECTRUMID="MSBNK-TEST-0002")
    edited = v1.replace("45.0 100", "45.0 70")
    ingest(engine, "msms", write(tmp_path, "a.mgf", v1), "massbank")
    other = ingest(engine, "msms", write(tmp_path, "b.mgf", edited), "lab")
    assert (other.inserted, other.superseded) == (1, 0)
    untitled = mgf_block("propanol", "CCCO", "61.0648", PEAKS)  # no SPECTRUMID
    ingest(engine, "msms", write(tmp_path, "c.mgf", untitled), "lab")
    again = ingest(
        engine, "msms", write(tmp_path, "d.mgf", untitled.replace("45.0 100", "45.0 60")), "lab"
    )
    assert (again.inserted, again.superseded) == (1, 0)
    with session_scope(engine) as session:
        current = session.execute(
            text("SELECT count(*) FROM msms_spectrum WHERE superseded_by IS NULL")
        ).scalar_one()
    assert current == 4


def test_an_edited_ir_file_supersedes_its_old_version_and_drops_only_its_ir_vector(
    engine, tmp_path
):
    """IR records are keyed by file name: an edited file replaces the old spectrum, whose IR
    embedding goes (an MS/MS vector of the same measurement id stays: ids are per table)."""
    from registry.ingest.parsers.ir import StructureIndex
    from registry.learned.versions import register_model

    name = "1,2-dichloroethane.jdx"
    options = IngestOptions(structure_index=StructureIndex.from_table(shared("ir", "index.tsv")))
    original = shared("ir", "jcamp", name).read_text()
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    ingest(engine, "ir", write(tmp_path / "v1", name, original), "nist", options)
    with session_scope(engine) as session:
        old_id, cid = session.execute(text("SELECT id, compound_id FROM ir_spectrum")).one()
        model = register_model(session, "m", "v1", "/m.pt", {}, {}, False)
        vector = "[" + ",".join(["0.0625"] * 256) + "]"
        for modality in ("ir", "msms"):
            session.execute(
                text(
                    "INSERT INTO measurement_embedding VALUES (:m, :mod, :id, :c, CAST(:v AS vector))"
                ),
                {"m": model.id, "mod": modality, "id": old_id, "c": cid, "v": vector},
            )
    edited = original.replace("382.000000 0.8117 0.8117", "382.000000 0.8000 0.8117", 1)
    second = ingest(engine, "ir", write(tmp_path / "v2", name, edited), "nist", options)
    assert (second.inserted, second.superseded) == (1, 1)
    with engine.connect() as conn:
        left = conn.execute(text("SELECT modality FROM measurement_embedding")).scalars().all()
        superseded = conn.execute(
            text("SELECT superseded_by IS NOT NULL FROM ir_spectrum WHERE id = :i"), {"i": old_id}
        ).scalar_one()
    assert left == ["msms"] and superseded


def test_a_source_is_created_once(engine):
    from registry.ingest.store import ensure_source

    with session_scope(engine) as session:
        first, created = ensure_source(session, "lab", "CC0", None)
        again, created_again = ensure_source(session, "lab", "other", "x")
    assert created and not created_again and first == again
