"""Repeated MS2 scans of one precursor merged into one consensus query
(molvis/workflows/consensus.py): which scans merge, and the consensus peaks."""

import numpy as np
import pytest

from molvis.workflows.consensus import MergeOptions, consensus_peaks, merge_repeated_scans
from registry.records import MsmsRecord, StructureRef


def scan(
    number, precursor, rt, peaks, ion_mode="positive", charge=1, energy="35", **metadata
) -> MsmsRecord:
    mz, intensity = (np.array(v, dtype=float) for v in zip(*peaks, strict=True))
    return MsmsRecord(
        structure=StructureRef(""),
        record_id=f"scan={number}",
        precursor_mz=precursor,
        adduct=None,
        ion_mode=ion_mode,
        instrument_type=None,
        collision_energy=energy,
        mz=mz,
        intensity=intensity,
        metadata={"scans": str(number), "retention_time": rt, "charge": charge} | metadata,
    )


def test_peaks_of_two_scans_join_within_the_tolerance_weighted_by_intensity():
    mz, intensity = consensus_peaks(
        [
            (np.array([100.000, 150.0]), np.array([50.0, 100.0])),
            (np.array([100.004, 200.0]), np.array([300.0, 100.0])),
        ],
        0.01,
    )
    # scaled to base peaks: 100.000 at 0.5, 100.004 at 1.0 -> m/z weighted 2:1 to the second
    assert mz == pytest.approx([100.0 + 0.004 * 2 / 3, 150.0, 200.0])
    assert intensity == pytest.approx([(0.5 + 1.0) / 2, 1.0 / 2, 100 / 300 / 2])


def test_three_scans_or_more_keep_the_peaks_seen_in_half_of_them():
    common = (np.array([80.0, 120.0]), np.array([10.0, 20.0]))
    noise = (np.array([80.0, 99.0, 120.0]), np.array([10.0, 5.0, 20.0]))
    mz, _ = consensus_peaks([common, common, noise], 0.01)
    assert list(mz) == pytest.approx([80.0, 120.0])  # 99 once in three: noise
    mz, _ = consensus_peaks([common, noise, noise, common], 0.01)
    assert list(mz) == pytest.approx([80.0, 99.0, 120.0])  # twice in four: kept


def test_repeats_of_one_precursor_merge_and_the_rest_stay_in_their_place():
    peaks = [(50.0, 10.0), (60.0, 20.0)]
    records = [
        scan(2, 183.057, 300.0, peaks, inverse_ion_mobility="0.61"),
        scan(3, 250.100, 301.0, peaks),  # another precursor
        scan(4, 183.060, 310.0, peaks, inverse_ion_mobility="0.63"),  # 12 s later, 3 mDa off
        scan(5, 183.057, 323.0, peaks),  # 13 s after scan 4: a new group
        scan(6, 183.057, 324.0, peaks, ion_mode="negative"),  # other polarity
        scan(7, 183.057, 325.0, peaks, charge=2),  # other charge
        scan(8, 183.080, 326.0, peaks),  # 23 mDa off scan 5
    ]
    merged = merge_repeated_scans(records)
    assert [r.record_id for r in merged] == [
        "scans=2,4",
        "scan=3",
        "scan=5",
        "scan=6",
        "scan=7",
        "scan=8",
    ]
    first = merged[0]
    assert first.metadata["scans"] == "2,4" and first.metadata["retention_time"] == 305.0
    assert first.precursor_mz == pytest.approx(183.0585)
    assert first.metadata["inverse_ion_mobility"] == pytest.approx(0.62)
    assert list(first.intensity) == pytest.approx([0.5, 1.0])
    assert merged[1] is records[1]
    wider = merge_repeated_scans(records, MergeOptions(rt_tolerance_s=15.0))
    assert [r.record_id for r in wider][:2] == ["scans=2,4,5", "scan=3"]


def test_a_merged_query_keeps_the_first_scan_s_place_and_every_scan_s_measurements():
    """The first scan's own metadata, the energies of all scans, the median ion mobility and
    CCS, the consensus peaks; tolerances hold at their edges (12 s, 0.5 Da given)."""
    first = scan(
        2, 100.0, 300.0, [(50.0, 10.0), (60.0, 20.0)], energy="40", title="first",
        ccs="140.0", drift_time_ms="20.0",
    )  # fmt: skip
    second = scan(
        4, 100.5, 312.0, [(50.0, 10.0), (70.0, 20.0)], energy="20", title="second",
        ccs="150.0", drift_time_ms="22.0",
    )  # fmt: skip
    (merged,) = merge_repeated_scans([first, second], MergeOptions(mz_tolerance=0.5))
    assert merged.record_id == "scans=2,4" and merged.metadata["title"] == "first"
    assert merged.collision_energy == "20, 40"
    assert merged.metadata["ccs"] == 145.0 and merged.metadata["drift_time_ms"] == 21.0
    assert list(merged.mz) == [50.0, 60.0, 70.0]
    assert list(merged.intensity) == pytest.approx([0.5, 0.5, 0.5])
    assert merged.precursor_mz == 100.25
    apart = merge_repeated_scans([first, second], MergeOptions(mz_tolerance=0.25))
    assert [r.record_id for r in apart] == ["scan=2", "scan=4"]
    later = scan(4, 100.0, 312.5, [(50.0, 10.0)])
    assert len(merge_repeated_scans([first, later])) == 2  # 12.5 s after


def test_peaks_exactly_the_tolerance_apart_are_joined():
    mz, _ = consensus_peaks(
        [(np.array([100.0]), np.array([1.0])), (np.array([100.5]), np.array([1.0]))], 0.5
    )
    assert len(mz) == 1 and mz[0] == pytest.approx(100.25)
    mz, _ = consensus_peaks(
        [(np.array([100.0]), np.array([1.0])), (np.array([100.75]), np.array([1.0]))], 0.5
    )
    assert len(mz) == 2


def test_spectra_that_are_not_a_run_s_scans_are_never_merged():
    peaks = [(50.0, 10.0)]
    feature = scan(2, 183.057, 300.0, peaks, feature_id="F1")
    twin = scan(3, 183.057, 301.0, peaks, feature_id="F2")
    no_rt = scan(4, 183.057, 300.0, peaks, retention_time=None)
    again = scan(5, 183.057, 300.0, peaks, retention_time=None)
    merged = merge_repeated_scans([feature, twin, no_rt, again])
    assert merged == [feature, twin, no_rt, again]
