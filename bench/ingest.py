"""Ingestion throughput: records/s end to end into PostgreSQL beside the bare parse rate of the
same text in the same process (ratio = database overhead), for MGF, MSP, MassBank, JCAMP-DX and
CCS tables. `--workers auto` is what `molvis ingest` chooses for each file.

The registry is imported inside the functions: the ingest's worker processes are spawned and
import this module again, which would otherwise cost each of them matchms' import (~3 s)."""

from __future__ import annotations

import argparse
import gzip
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import SHARED, ingest, scratch_database, timed, write_result

if TYPE_CHECKING:
    from registry.ingest.parsers.ir import StructureIndex
    from registry.ingest.summary import IngestOptions


def _mgf(n: int) -> str:
    out, count = [], 0
    with gzip.open(SHARED / "massbank" / "massbank_ms2.mgf.gz", "rt") as handle:
        for line in handle:
            out.append(line)
            if line.strip() == "END IONS":
                count += 1
                if count == n:
                    break
    return "".join(out)


def _msp(mgf_text: str) -> str:
    from registry.ingest.files import TextMember
    from registry.ingest.parsers.mgf import parse_mgf

    blocks = []
    for parsed in parse_mgf(TextMember("x.mgf", "x.mgf", mgf_text)):
        r = parsed.record
        if r is None:
            continue
        lines = [
            f"Name: {r.record_id}",
            f"SMILES: {r.structure.text}",
            f"PrecursorMZ: {r.precursor_mz}",
            f"Precursor_type: {r.adduct or ''}",
            f"Ion_mode: {r.ion_mode or ''}",
            f"Num Peaks: {r.mz.size}",
        ]
        lines += [f"{m:.5f} {i:.2f}" for m, i in zip(r.mz, r.intensity, strict=True)]
        blocks.append("\n".join(lines) + "\n\n")
    return "".join(blocks)


def _massbank(n: int, folder: Path) -> Path:
    out = folder / "massbank.tar"
    count = 0
    with (
        tarfile.open(SHARED / "massbank" / "massbank_records.tar.xz", "r:xz") as src,
        tarfile.open(out, "w") as dst,
    ):
        for info in src:
            if info.isfile() and info.name.endswith(".txt"):
                dst.addfile(info, src.extractfile(info))
                count += 1
                if count == n:
                    break
    return out


def _ccs(n: int) -> str:
    with gzip.open(SHARED / "ccs" / "ccs_combined.tsv.gz", "rt") as handle:
        return "".join(next(handle) for _ in range(n + 1))


def inputs(n: int, folder: Path) -> list[tuple[str, str, Path]]:
    mgf = _mgf(n)
    (folder / "b.mgf").write_text(mgf)
    (folder / "b.msp").write_text(_msp(mgf))
    (folder / "b.tsv").write_text(_ccs(n))
    return [
        ("MGF", "msms", folder / "b.mgf"),
        ("MSP", "msms", folder / "b.msp"),
        ("MassBank", "msms", _massbank(n, folder)),
        ("CCS table", "ccs", folder / "b.tsv"),
        ("JCAMP-DX (64 files)", "ir", SHARED / "ir" / "jcamp"),
    ]


def bare_parse(kind: str, path: Path, options: IngestOptions, normalize: bool) -> tuple[int, float]:
    """Parse only (or parse + RDKit normalisation) of the same files, nothing written."""
    from registry.chem.identity import identify
    from registry.ingest.files import iter_members
    from registry.ingest.formats import KINDS

    files = sorted(path.glob("*.jdx")) if path.is_dir() else [path]
    identify.cache_clear()
    with timed() as t:
        n = 0
        for file in files:
            for member in iter_members(file):
                kwargs = {"index": options.structure_index} if kind == "ir" else {}
                for parsed in KINDS[kind].parse(member, 1, **kwargs):
                    n += 1
                    if normalize and parsed.record is not None and parsed.record.structure.text:
                        try:
                            identify(parsed.record.structure.text)
                        except ValueError:
                            pass
    identify.cache_clear()
    return n, t["seconds"]


def _workers(value: str) -> str | int:
    return value if value == "auto" else int(value)


def main(argv: list[str] | None = None) -> None:
    from registry.ingest.parsers.ir import StructureIndex

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000, help="records per format (default 5000)")
    parser.add_argument(
        "--workers",
        type=_workers,
        nargs="+",
        default=["auto", 0],
        help="normalisation processes to compare (`molvis ingest --workers`; 'auto': what it "
        "chooses for each file), each run on a fresh database (default: auto 0)",
    )
    parser.add_argument("--output", type=Path, help="JSON result path")
    args = parser.parse_args(argv)
    import tempfile

    rows = []
    index = StructureIndex.from_table(SHARED / "ir" / "index.tsv")
    with tempfile.TemporaryDirectory() as tmp:
        cases = inputs(args.n, Path(tmp))
        for workers in args.workers:
            with scratch_database() as engine:
                for label, kind, path in cases:
                    if workers not in ("auto", 0) and kind == "ir":  # 64 small files
                        continue
                    rows.append(_measure(engine, label, kind, path, workers, index))
                    print(rows[-1], flush=True)
    write_result("ingest", {"n": args.n, "rows": rows}, args.output)


def _measure(
    engine, label: str, kind: str, path: Path, workers: str | int, index: StructureIndex
) -> dict:
    """Bare parse, parse + RDKit, and the ingest of one input, in that order, in this process."""
    from molvis.workflows.ingest import auto_workers
    from registry.ingest.summary import IngestOptions

    chosen = auto_workers(kind, path) if workers == "auto" else workers
    options = IngestOptions(structure_index=index, fingerprints=False, workers=chosen)
    n_parse, parse_s = bare_parse(kind, path, options, normalize=False)
    _, normalize_s = bare_parse(kind, path, options, normalize=True)
    files = sorted(path.glob("*.jdx")) if path.is_dir() else [path]
    with timed() as t:
        summaries = [ingest(engine, kind, f, f"bench-{label}", options) for f in files]
    read = sum(s.read for s in summaries)
    return {
        "format": label,
        "workers": options.workers,
        "workers_asked": workers,
        "records": read,
        "parse_per_s": round(n_parse / parse_s, 1),
        "parse_normalize_per_s": round(n_parse / normalize_s, 1),
        "end_to_end_per_s": round(read / t["seconds"], 1),
        "end_to_end_vs_parse": round(t["seconds"] / parse_s, 2),
        "end_to_end_vs_parse_normalize": round(t["seconds"] / normalize_s, 2),
    }


if __name__ == "__main__":
    main()
