"""How the demo files beside this module were cut from the team's shared data (run from the
repository root: `python -m molvis.demo.select ../shared/data`). Only openly licensed records:
MassBank spectra under CC0 or CC BY, the PNNL metabolomics CCS library (Apache-2.0) and MOSES
structures (MIT); README.md here names each source."""

from __future__ import annotations

import csv
import gzip
import random
import sys
import tarfile
from pathlib import Path

from rdkit import Chem, RDLogger
from rdkit.Chem.Descriptors import ExactMolWt

HERE = Path(__file__).resolve().parent
OPEN_LICENCES = {"CC0", "CC BY"}
IONS = {"[M+H]+", "[M-H]-"}
SPECTRA, PER_COMPOUND, STRUCTURES, PPM = 400, 3, 2000, 20.0


def _mgf_blocks(path: Path):
    block: list[str] = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            block.append(line)
            if line.startswith("END IONS"):
                yield block
                block = []


def _keys(block: list[str]) -> dict[str, str]:
    return dict(line.rstrip("\n").split("=", 1) for line in block if "=" in line)


def select_spectra(data: Path, pnnl_skeletons: set[str], rng: random.Random) -> list[list[str]]:
    """Open-licence [M+H]+/[M-H]- spectra with a structure, at most PER_COMPOUND per compound;
    compounds with a PNNL CCS value first, so the demo's searches can use a CCS."""
    by_compound: dict[str, list[list[str]]] = {}
    for block in _mgf_blocks(data / "massbank" / "massbank_ms2.mgf.gz"):
        keys = _keys(block)
        if (
            keys.get("LICENSE") in OPEN_LICENCES
            and keys.get("ADDUCT") in IONS
            and keys.get("SMILES")
            and keys.get("PEPMASS")
            and keys.get("INCHIKEY")
        ):
            by_compound.setdefault(keys["INCHIKEY"][:14], []).append(block)
    compounds = sorted(by_compound)
    rng.shuffle(compounds)
    compounds.sort(key=lambda k: k not in pnnl_skeletons)  # stable: CCS-measured ones first
    chosen: list[list[str]] = []
    for skeleton in compounds:
        chosen += by_compound[skeleton][:PER_COMPOUND]
        if len(chosen) >= SPECTRA:
            break
    return chosen[:SPECTRA]


def select_structures(data: Path, masses: list[float], rng: random.Random) -> list[str]:
    """MOSES structures within PPM of a demo compound's mass: candidates for its window."""
    masses = sorted(masses)
    near: list[str] = []
    with gzip.open(data / "library" / "test.csv.gz", "rt") as handle:
        for row in csv.DictReader(handle):
            mol = Chem.MolFromSmiles(row["SMILES"])
            if mol is None:
                continue
            mass = ExactMolWt(mol)
            if any(abs(mass - m) <= m * PPM * 1e-6 for m in masses if abs(mass - m) < 1):
                near.append(row["SMILES"])
    rng.shuffle(near)
    return sorted(near[:STRUCTURES])


def attribution(data: Path, accessions: set[str]) -> list[tuple[str, ...]]:
    """(accession, licence, authors, copyright) of each chosen MassBank record, from the raw
    record files: CC BY asks that the authors be named."""
    rows = []
    with tarfile.open(data / "massbank" / "massbank_records.tar.xz") as archive:
        for member in archive:
            if Path(member.name).stem not in accessions:
                continue
            fields = {"ACCESSION": "", "LICENSE": "", "AUTHORS": "", "COPYRIGHT": ""}
            for line in archive.extractfile(member).read().decode("utf-8").splitlines():
                key, _, value = line.partition(": ")
                if key in fields and not fields[key]:
                    fields[key] = value.strip()
            rows.append(tuple(fields.values()))
    return sorted(rows)


def main(data: Path) -> None:
    RDLogger.DisableLog("rdApp.*")
    rng = random.Random(0)
    pnnl = data / "ccs" / "raw" / "pnnl_metabolomicsccs" / "metabolitedata.tsv"
    text = pnnl.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    skeletons = {r["InChi"][:14] for r in rows if r.get("InChi")}
    spectra = select_spectra(data, skeletons, rng)
    (HERE / "massbank_open.mgf").write_text("".join(line for b in spectra for line in b + ["\n"]))
    accessions = {_keys(b)["SPECTRUMID"] for b in spectra}
    credits = attribution(data, accessions)
    (HERE / "massbank_open_attribution.tsv").write_text(
        "".join(
            "\t".join(r) + "\n"
            for r in [("accession", "licence", "authors", "copyright")] + credits
        )
    )
    (HERE / "pnnl_metabolomics_ccs.tsv").write_text(text)
    masses = [float(_keys(b)["EXACTMASS"]) for b in spectra if _keys(b).get("EXACTMASS")]
    structures = select_structures(data, masses, rng)
    (HERE / "moses_candidates.smi").write_text("SMILES\n" + "\n".join(structures) + "\n")
    print(f"{len(spectra)} spectra, {len(rows)} CCS compounds, {len(structures)} structures")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
