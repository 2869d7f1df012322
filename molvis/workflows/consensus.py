"""Repeated MS2 scans of one precursor in an LC-MS run merged into one consensus query, as
MS-DIAL and MZmine do: a data-dependent run fragments the same ion several times across its
chromatographic peak, and a search per scan would list one compound several times.

Which scans merge: those of a run (a retention time and a scan number, no feature id: a
feature table's spectra are merged already), of the same polarity and charge, whose precursors
lie within `mz_tolerance` of the group's first and whose retention times follow each other
within `rt_tolerance_s`. The consensus: each scan scaled to its base peak, peaks within
`fragment_tolerance` across scans joined (intensity-weighted m/z, mean intensity over the
group's scans), and for three scans or more only the peaks seen in at least half of them kept.
matchms and ms_entropy clean single spectra but build no consensus, hence this module."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from registry.records import MsmsRecord


@dataclass(frozen=True)
class MergeOptions:
    mz_tolerance: float = 0.01  # Da, precursor (MS-DIAL's MS1 default)
    rt_tolerance_s: float = 12.0  # between consecutive scans of one precursor
    fragment_tolerance: float = 0.01  # Da, peaks joined across scans


def _is_scan(record: MsmsRecord) -> bool:
    md = record.metadata
    return (
        record.precursor_mz is not None
        and md.get("retention_time") is not None
        and md.get("scans") is not None
        and md.get("feature_id") is None
    )


def _key(record: MsmsRecord) -> tuple:
    return record.ion_mode, record.metadata.get("charge"), record.adduct


def consensus_peaks(
    spectra: list[tuple[np.ndarray, np.ndarray]], tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """The consensus of several peak lists (m/z ascending each): joined peaks' intensity-
    weighted m/z and mean base-peak-scaled intensity; for 3+ spectra, peaks seen in half."""
    mz = np.concatenate([m for m, _ in spectra])
    scaled = np.concatenate([i / i.max() for _, i in spectra])
    source = np.concatenate([np.full(len(m), n) for n, (m, _) in enumerate(spectra)])
    order = np.argsort(mz, kind="stable")
    mz, scaled, source = mz[order], scaled[order], source[order]
    starts = np.flatnonzero(np.diff(mz, prepend=-np.inf) > tolerance)
    bounds = np.append(starts, len(mz))
    keep = math.ceil(len(spectra) / 2) if len(spectra) >= 3 else 1
    out_mz, out_intensity = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if len(set(source[lo:hi].tolist())) < keep:
            continue
        weight = scaled[lo:hi]
        out_mz.append(float(np.average(mz[lo:hi], weights=weight + 1e-12)))
        out_intensity.append(float(weight.sum() / len(spectra)))
    return np.array(out_mz), np.array(out_intensity)


def _merged(group: list[MsmsRecord], options: MergeOptions) -> MsmsRecord:
    if len(group) == 1:
        return group[0]
    mz, intensity = consensus_peaks(
        [(r.mz, r.intensity) for r in group], options.fragment_tolerance
    )
    scans = ",".join(str(r.metadata["scans"]) for r in group)
    metadata = dict(group[0].metadata)
    metadata["scans"] = scans
    metadata["retention_time"] = float(
        np.mean([float(r.metadata["retention_time"]) for r in group])
    )
    for key in ("inverse_ion_mobility", "ccs", "drift_time_ms"):
        values = [float(r.metadata[key]) for r in group if r.metadata.get(key) is not None]
        if values:
            metadata[key] = float(np.median(values))
    energies = sorted({r.collision_energy for r in group if r.collision_energy})
    return replace(
        group[0],
        record_id=f"scans={scans}",
        precursor_mz=float(np.mean([r.precursor_mz for r in group])),
        collision_energy=", ".join(energies) or None,
        mz=mz,
        intensity=intensity,
        metadata=metadata,
    )


def merge_repeated_scans(
    records: list[MsmsRecord], options: MergeOptions | None = None
) -> list[MsmsRecord]:
    """The records with each run's repeated scans of one precursor merged (in the place of the
    group's first scan); other records as they are, in their order."""
    options = options or MergeOptions()
    open_groups: dict[tuple, list[list[MsmsRecord]]] = {}  # groups a later scan may still join
    slots: list[list[MsmsRecord] | MsmsRecord] = []
    for record in records:
        if not _is_scan(record):
            slots.append(record)
            continue
        rt = float(record.metadata["retention_time"])
        recent = [  # a run's scans come in time order: older groups are closed
            g
            for g in open_groups.get(_key(record), [])
            if abs(rt - float(g[-1].metadata["retention_time"])) <= options.rt_tolerance_s
        ]
        found = next(
            (
                g
                for g in recent
                if abs(record.precursor_mz - g[0].precursor_mz) <= options.mz_tolerance
            ),
            None,
        )
        if found is None:
            found = []
            recent.append(found)
            slots.append(found)
        found.append(record)
        open_groups[_key(record)] = recent
    return [_merged(s, options) if isinstance(s, list) else s for s in slots]
