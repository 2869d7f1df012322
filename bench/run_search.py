"""An LC-MS run searched as it comes off the instrument: `molvis search --msms run.mzML --out
results.tsv` on a data-dependent run built from the registry's own spectra, written by psims
(indexed mzML, zlib arrays) as msconvert would write it.

The run: `--scans` MS2 scans of stored spectra (1 % intensity noise, structures not in the
file), each precursor fragmented 1-3 times within a few seconds as a DDA method does, an MS1
survey scan before every ten MS2 scans, retention times rising over an hour. Measured in one
process: reading the run (pyteomics) and merging its repeated scans, with peak memory; then the
whole command as a user runs it (model load included), with and without fragment evidence, its
wall time and the child's peak memory.

Run on the configured registry (`make demo`, or any registry with MS/MS and a model):
python -m bench.run_search [--scans 5000] [--search-scans 5000]"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import text

from bench.common import markdown_table, peak_rss_mb, write_result
from bench.library import stored_spectra
from registry.db.connection import get_engine, session_scope


def write_run(path: Path, spectra: list, n_scans: int, seed: int) -> dict:
    """A DDA run of `n_scans` MS2 scans drawn from `spectra` (cycled), written with psims."""
    from psims.mzml.writer import MzMLWriter

    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    rt, scan, ms2, precursors = 0.0, 0, 0, 0
    with MzMLWriter(open(path, "wb"), close=True) as out:
        out.controlled_vocabularies()
        with out.run(id="bench_run"):
            with out.spectrum_list(count=n_scans + n_scans // 10 + 1):
                while ms2 < n_scans:
                    spectrum = spectra[precursors % len(spectra)]
                    precursors += 1
                    polarity = (
                        "negative scan" if spectrum.ion_mode == "negative" else "positive scan"
                    )
                    for _ in range(min(rng.choice((1, 1, 2, 3)), n_scans - ms2)):
                        if ms2 % 10 == 0:
                            scan += 1
                            out.write_spectrum(
                                np.array([spectrum.precursor_mz]),
                                np.array([1e6]),
                                id=f"scan={scan}",
                                polarity=polarity,
                                scan_start_time=rt / 60,
                                params=[{"ms level": 1}],
                            )
                        scan, ms2, rt = scan + 1, ms2 + 1, rt + rng.uniform(0.2, 2.0)
                        noisy = spectrum.intensity * (
                            1 + 0.01 * noise.standard_normal(spectrum.intensity.size)
                        )
                        out.write_spectrum(
                            spectrum.mz,
                            np.abs(noisy),
                            id=f"scan={scan}",
                            polarity=polarity,
                            scan_start_time=rt / 60,
                            params=[{"ms level": 2}],
                            precursor_information={
                                "mz": spectrum.precursor_mz,
                                "intensity": 1e6,
                                "charge": 1,
                                "activation": [
                                    "collision-induced dissociation",
                                    {"collision energy": 30},
                                ],
                            },
                        )
    return {
        "ms2_scans": ms2,
        "all_scans": scan,
        "precursors": precursors,
        "minutes": round(rt / 60, 1),
    }


def read_run(path: Path) -> dict:
    from molvis.workflows.consensus import merge_repeated_scans
    from molvis.workflows.query import read_msms_file

    start = time.perf_counter()
    records, problems = read_msms_file(path)
    read_s = time.perf_counter() - start
    merged = merge_repeated_scans(records)
    return {
        "read_seconds": round(read_s, 2),
        "scans_per_second": round(len(records) / read_s),
        "merge_seconds": round(time.perf_counter() - start - read_s, 2),
        "ms2_read": len(records),
        "skipped": len(problems),
        "queries_after_merge": len(merged),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def search_run(path: Path, extra: list[str]) -> dict:
    """The whole command, timed from outside; the child's peak resident memory."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.tsv"
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "molvis", "search", "--msms", str(path), "--out", str(out)]
            + extra,
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - start
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "flags": " ".join(extra) or "(defaults)",
        "seconds": round(seconds, 1),
        "summary": done.stdout.strip(),
        "children_peak_rss_mb": round(child_mb),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scans", type=int, default=5000, help="MS2 scans of the run")
    parser.add_argument(
        "--search-scans",
        type=int,
        default=500,
        help="MS2 scans of the run searched with the defaults",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    with session_scope(get_engine()) as session:
        spectra = [s for s in stored_spectra(session, args.scans, args.seed) if s.precursor_mz]
        registry = {
            "compounds": session.execute(text("SELECT count(*) FROM compound")).scalar_one(),
            "msms_spectra": session.execute(
                text("SELECT count(*) FROM msms_spectrum")
            ).scalar_one(),
        }
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run.mzML"
        small = Path(tmp) / "small.mzML"
        made = write_run(run, spectra, args.scans, args.seed)
        write_run(small, spectra, args.search_scans, args.seed)
        result = {
            "registry": registry,
            "run": made | {"mb": round(run.stat().st_size / 2**20, 1)},
            "read": read_run(run),
            "search_no_fragments": search_run(run, ["--no-fragments"]),
            "search_defaults_subset": {"ms2_scans": args.search_scans} | search_run(small, []),
        }
    print(result)
    write_result("run_search", result, args.output)


if __name__ == "__main__":
    main()


def run_search_section(r: dict) -> list[str]:
    """The BENCHMARKS.md section of this benchmark."""
    run, read = r["run"], r["read"]
    fast, full = r["search_no_fragments"], r["search_defaults_subset"]
    return [
        f"## An LC-MS run searched ({r['machine']['date']}, {r['machine']['cpus']} cores)",
        "",
        f"A DDA run written by psims as mzML: {run['ms2_scans']:,} MS2 scans of "
        f"{run['precursors']:,} precursors (1-3 scans each) and MS1 survey scans, "
        f"{run['all_scans']:,} scans over {run['minutes']} min, {run['mb']} MB "
        f"(`python -m bench.run_search`), searched against a registry of "
        f"{r['registry']['compounds']:,} compounds and {r['registry']['msms_spectra']:,} MS/MS "
        "spectra (the run's spectra are among them, as a library holds a lab's standards).",
        "",
        markdown_table(
            ["step", "scans / queries", "seconds", "peak RSS MB"],
            [
                [
                    "read the run (pyteomics) and merge repeated scans",
                    f"{read['ms2_read']:,} MS2 read, {read['skipped']:,} skipped -> "
                    f"{read['queries_after_merge']:,} queries",
                    f"{read['read_seconds']} + {read['merge_seconds']}",
                    read["peak_rss_mb"],
                ],
                [
                    f"`molvis search --msms run.mzML --out results.tsv {fast['flags']}`",
                    fast["summary"].split(" ->")[0],
                    fast["seconds"],
                    fast["children_peak_rss_mb"],
                ],
                [
                    f"the same with the defaults (learned ranking over fragment evidence), "
                    f"a run of {full['ms2_scans']:,} MS2 scans",
                    full["summary"].split(" ->")[0],
                    full["seconds"],
                    full["children_peak_rss_mb"],
                ],
            ],
        ),
        "",
        "Peak RSS of the commands: the largest of the child processes so far (measured from "
        "outside, model load included). With fragment evidence it grows with the candidates "
        "explained until the fragment cache (4,096 structures, `registry/chem/explain.py`) is "
        "full; runs longer than this one were not measured.",
        "",
    ]
