"""Write the small files the reader tests use, from the GNPS pesticide spectra in
`gnps_pesticides_3.mgf` (CC0), so that every field a reader takes is known:
`run_negative.mzML` and `run_negative.mzXML` (the spectra as MS2 scans of a made-up
negative-mode run, between MS1 scans), `gnps_pesticides_3.json` (GNPS library JSON), and the
text exports labs meet (`exports/`): GNPS MGF with quoted InChI, Mascot-style MGF, RIKEN-style
MSP, MS-DIAL MSP with CCS, MoNA MSP with the structure in its comments.

Run: python tests/data/make_files.py (the files are committed; rerun only to change them)."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _records() -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
    """The metadata and peak lists of the three GNPS spectra, in file order."""
    out, metadata, peaks = [], {}, []
    for line in (HERE / "gnps_pesticides_3.mgf").read_text().splitlines():
        if line == "BEGIN IONS":
            metadata, peaks = {}, []
        elif line == "END IONS":
            out.append((metadata, peaks))
        elif line[:1].isdigit():
            mz, intensity = line.split()[:2]
            peaks.append((float(mz), float(intensity)))
        elif "=" in line:
            key, _, value = line.partition("=")
            metadata[key] = value
    return out


FUBERIDAZOLE, ETHIRIMOL, DINICONAZOLE = (peaks for _, peaks in _records())
MS1 = [(183.057, 5e5), (208.146, 2e5), (370.073, 1e5), (103.569, 3e4)]
# scan number, ms level, retention time (min), precursor m/z, charge, CE (eV), 1/K0, peaks
SCANS = [
    (1, 1, 5.00, None, None, None, None, MS1),
    (2, 2, 5.01, 183.057, 1, 35.0, 0.612, FUBERIDAZOLE),
    (3, 1, 5.03, None, None, None, None, MS1),
    (4, 2, 5.04, 183.057, 1, 35.0, 0.613, FUBERIDAZOLE),  # the same precursor again
    (5, 2, 6.20, 103.569, 2, 30.0, None, ETHIRIMOL),  # as if [M-2H]2-: (209.1528 - 2 H+) / 2
    (6, 2, 7.30, 370.073, None, 40.0, 0.795, DINICONAZOLE),  # no charge state given
    (7, 2, 7.40, 250.0, 1, 40.0, None, []),  # an empty scan
]


def _array(values: list[float], compress: bool) -> str:
    raw = struct.pack(f"<{len(values)}d", *values)
    return base64.b64encode(zlib.compress(raw) if compress else raw).decode()


def _cv(accession: str, name: str, value: object = "", unit: tuple[str, str] | None = None) -> str:
    unit_text = (
        f' unitCvRef="{unit[0].split(":")[0]}" unitAccession="{unit[0]}" unitName="{unit[1]}"'
        if unit
        else ""
    )
    return f'<cvParam cvRef="MS" accession="{accession}" name="{name}" value="{value}"{unit_text}/>'


def mzml() -> str:
    spectra = []
    for index, (scan, level, rt, precursor, charge, energy, mobility, peaks) in enumerate(SCANS):
        mz = [p[0] for p in peaks]
        intensity = [p[1] for p in peaks]
        scan_params = _cv("MS:1000016", "scan start time", rt, ("UO:0000031", "minute"))
        if mobility:
            scan_params += _cv(
                "MS:1002815",
                "inverse reduced ion mobility",
                mobility,
                ("MS:1002814", "volt-second per square centimeter"),
            )
        precursor_xml = ""
        if precursor:
            ion = _cv("MS:1000744", "selected ion m/z", precursor, ("MS:1000040", "m/z"))
            if charge:
                ion += _cv("MS:1000041", "charge state", charge)
            precursor_xml = (
                '<precursorList count="1"><precursor><selectedIonList count="1"><selectedIon>'
                f"{ion}</selectedIon></selectedIonList><activation>"
                + _cv("MS:1000133", "collision-induced dissociation")
                + _cv("MS:1000045", "collision energy", energy, ("UO:0000266", "electronvolt"))
                + "</activation></precursor></precursorList>"
            )
        arrays = "".join(
            f'<binaryDataArray encodedLength="{len(_array(v, index % 2 == 0))}">'
            + _cv("MS:1000523", "64-bit float")
            + (
                _cv("MS:1000574", "zlib compression")
                if index % 2 == 0
                else _cv("MS:1000576", "no compression")
            )
            + _cv(acc, name)
            + f"<binary>{_array(v, index % 2 == 0)}</binary></binaryDataArray>"
            for v, acc, name in (
                (mz, "MS:1000514", "m/z array"),
                (intensity, "MS:1000515", "intensity array"),
            )
        )
        spectra.append(
            f'<spectrum index="{index}" id="controllerType=0 controllerNumber=1 scan={scan}" '
            f'defaultArrayLength="{len(peaks)}">'
            + _cv("MS:1000511", "ms level", level)
            + _cv("MS:1000129", "negative scan")
            + f'<scanList count="1">{_cv("MS:1000795", "no combination")}<scan>{scan_params}</scan></scanList>'
            + precursor_xml
            + f'<binaryDataArrayList count="2">{arrays}</binaryDataArrayList></spectrum>'
        )
    body = "\n".join(spectra)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<mzML xmlns="http://psi.hupo.org/ms/mzml" version="1.1.0">\n'
        '<cvList count="2"><cv id="MS" fullName="PSI-MS" version="4.1.0" '
        'URI="https://raw.githubusercontent.com/HUPO-PSI/psi-ms-CV/master/psi-ms.obo"/>'
        '<cv id="UO" fullName="Unit Ontology" URI="http://ontologies.berkeleybop.org/uo.obo"/></cvList>\n'
        f'<run id="pesticides_neg"><spectrumList count="{len(SCANS)}">\n{body}\n'
        "</spectrumList></run>\n</mzML>\n"
    )


def mzxml() -> str:
    scans = []
    for scan, level, rt, precursor, charge, energy, _, peaks in SCANS:
        pairs = [v for p in peaks for v in p]
        raw = struct.pack(f">{len(pairs)}d", *pairs)
        precursor_xml = ""
        if precursor:
            charge_attr = f' precursorCharge="{charge}"' if charge else ""
            precursor_xml = (
                f'<precursorMz precursorIntensity="1000"{charge_attr}>{precursor}</precursorMz>'
            )
        energy_attr = f' collisionEnergy="{energy}"' if energy else ""
        scans.append(
            f'<scan num="{scan}" msLevel="{level}" peaksCount="{len(peaks)}" polarity="-" '
            f'retentionTime="PT{rt * 60:.1f}S"{energy_attr}>{precursor_xml}'
            f'<peaks precision="64" byteOrder="network" contentType="m/z-int" '
            f'compressionType="none" compressedLen="0">{base64.b64encode(raw).decode()}</peaks></scan>'
        )
    body = "\n".join(scans)
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        '<mzXML xmlns="http://sashimi.sourceforge.net/schema_revision/mzXML_3.2">\n'
        f'<msRun scanCount="{len(SCANS)}">\n{body}\n</msRun>\n</mzXML>\n'
    )


def gnps_json() -> str:
    """The GNPS library's JSON shape: flat keys as GNPS names them, peaks as a JSON string."""
    out = []
    for metadata, peaks in _records():
        out.append(
            {
                "spectrum_id": metadata["SPECTRUMID"],
                "Compound_Name": metadata["NAME"],
                "Ion_Mode": metadata["IONMODE"].capitalize(),
                "Precursor_MZ": metadata["PEPMASS"],
                "Adduct": metadata["NAME"].rsplit(" ", 1)[-1],
                "Smiles": metadata["SMILES"],
                "INCHI": f'"{metadata["INCHI"]}"',
                "Instrument": metadata["SOURCE_INSTRUMENT"].strip(" -"),
                "peaks_json": json.dumps([[mz, i] for mz, i in peaks]),
            }
        )
    return json.dumps(out, indent=1) + "\n"


def _peak_lines(peaks: list[tuple[float, float]], sep: str = " ") -> str:
    return "".join(f"{mz}{sep}{intensity}\n" for mz, intensity in peaks)


def gnps_quoted_mgf() -> str:
    """GNPS's MGF as its library pages export it: the InChI in quotes."""
    blocks = []
    for m, peaks in _records():
        blocks.append(
            f"BEGIN IONS\nPEPMASS={m['PEPMASS']}\nCHARGE=1-\nIONMODE=negative\n"
            f'NAME={m["NAME"]}\nSPECTRUMID={m["SPECTRUMID"]}\nINCHI="{m["INCHI"]}"\n'
            f"{_peak_lines(peaks)}END IONS\n"
        )
    return "\n".join(blocks)


def mascot_mgf() -> str:
    """Mascot style: search parameters, the charge and the ion mode once before the first block."""
    header = "COM=pesticide mix 6, negative\nCHARGE=1-\nITOL=0.02\nITOLU=Da\n\n"
    blocks = [
        f"BEGIN IONS\nTITLE={m['SPECTRUMID']}\nPEPMASS={m['PEPMASS']}\nSMILES={m['SMILES']}\n"
        f"{_peak_lines(peaks)}END IONS\n"
        for m, peaks in _records()
    ]
    return header + "\n".join(blocks)


def _pairs(peaks: list[tuple[float, float]], per_line: int, sep: str, end: str) -> str:
    lines = []
    for i in range(0, len(peaks), per_line):
        chunk = peaks[i : i + per_line]
        lines.append(" ".join(f"{mz}{sep}{intensity}{end}" for mz, intensity in chunk).strip())
    return "\n".join(lines) + "\n"


def riken_msp() -> str:
    """RIKEN / MS-DIAL library style: PRECURSORMZ before NAME, 'mz:int' pairs several a line."""
    blocks = [
        f"PRECURSORMZ: {m['PEPMASS']}\nNAME: {m['NAME']}\nPRECURSORTYPE: [M-H]-\n"
        f"IONMODE: Negative\nSMILES: {m['SMILES']}\nNum Peaks: {len(peaks)}\n"
        f"{_pairs(peaks, 5, ':', '')}"
        for m, peaks in _records()
    ]
    return "\n".join(blocks)


CCS = {"CCMSLIB00001058235": 139.4, "CCMSLIB00001058238": 148.7, "CCMSLIB00001058241": 179.2}


def msdial_msp() -> str:
    """MS-DIAL's MSP export of features: each one's CCS and retention time (minutes)."""
    blocks = []
    for n, (m, peaks) in enumerate(_records(), start=1):
        blocks.append(
            f"NAME: Unknown\nPRECURSORMZ: {m['PEPMASS']}\nPRECURSORTYPE: [M-H]-\n"
            f"IONMODE: Negative\nRETENTIONTIME: {4.5 + n:.2f}\nCCS: {CCS[m['SPECTRUMID']]}\n"
            f"Num Peaks: {len(peaks)}\n{_peak_lines(peaks, chr(9))}"
        )
    return "\n".join(blocks)


def mona_msp() -> str:
    """MoNA's MSP export: SMILES and InChI only inside the quoted Comments."""
    blocks = []
    for m, peaks in _records():
        comments = f'"computed SMILES={m["SMILES"]}" "{m["INCHI"]}" "origin=GNPS"'
        blocks.append(
            f"Name: {m['NAME']}\nDB#: {m['SPECTRUMID']}\nPrecursor_type: [M-H]-\n"
            f"Ion_mode: N\nPrecursorMZ: {m['PEPMASS']}\nComments: {comments}\n"
            f"Num Peaks: {len(peaks)}\n{_peak_lines(peaks)}"
        )
    return "\n".join(blocks)


EXPORTS = {
    "gnps_quoted_inchi.mgf": gnps_quoted_mgf,
    "mascot.mgf": mascot_mgf,
    "riken.msp": riken_msp,
    "msdial_ccs.msp": msdial_msp,
    "mona_comments.msp": mona_msp,
}


if __name__ == "__main__":
    (HERE / "run_negative.mzML").write_text(mzml())
    (HERE / "run_negative.mzXML").write_text(mzxml())
    (HERE / "gnps_pesticides_3.json").write_text(gnps_json())
    (HERE / "exports").mkdir(exist_ok=True)
    for name, write in EXPORTS.items():
        (HERE / "exports" / name).write_text(write())
