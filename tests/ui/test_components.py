"""The page's drawings: which peaks a mirror plot colours as matched and which it labels."""

import numpy as np

from ui.components import fragment_chart, fragment_frame, matched, mirror_frame, readable


def test_matched_peaks_within_the_tolerance_inclusive():
    query = [50.0, 100.0, 150.0, 200.0, 300.0]
    library = [100.02, 149.975, 250.0, 300.0]
    assert matched(query, library).tolist() == [False, True, False, False, True]
    # a peak below the first and above the last library peak
    assert matched([10.0, 400.0], [10.01, 399.99]).tolist() == [True, True]
    assert matched([100.0], [], 0.02).tolist() == [False]
    assert matched([], [100.0]).tolist() == []
    assert matched([100.0], [100.05], tolerance=0.05).tolist() == [True]


def test_mirror_frame_marks_sides_matches_and_labels_the_ten_largest():
    mz = np.arange(100.0, 112.0)  # 12 peaks, intensity rising with m/z
    frame = mirror_frame(mz, mz - 99, [100.0, 500.0], [50.0, 100.0], "ref")
    query = frame[frame["spectrum"] == "query"]
    assert (query["intensity"] > 0).all() and (
        frame[frame["spectrum"] == "ref"]["intensity"] < 0
    ).all()
    assert query["intensity"].max() == 100.0
    assert list(query["peak"][:2]) == ["query: matched", "query: unmatched"]
    # the ten largest query peaks are labelled, the two smallest not
    assert list(query["label"][:2]) == ["", ""] and query["label"].iloc[2] == "102.0000"
    assert list(frame[frame["spectrum"] == "ref"]["peak"]) == ["ref: matched", "ref: unmatched"]


def test_readable_headers():
    assert list(readable([{"msms_spectra": 1, "ccs_values": 2}]).columns) == [
        "msms spectra",
        "ccs values",
    ]


def test_fragment_frame_labels_the_explained_peaks_with_their_fragment():
    annotations = [{"mz": 138.06621, "formula": "C6H8N3O+", "smiles": "Cnc(=O)c1cncn1C"}]
    frame = fragment_frame([110.07, 138.0662, 195.0877], [20.0, 100.0, 40.0], annotations)
    assert list(frame["peak"]) == ["not explained", "explained", "not explained"]
    assert list(frame["fragment"]) == ["", "C6H8N3O+", ""]
    assert frame["smiles"].iloc[1] == "Cnc(=O)c1cncn1C" and frame["intensity"].max() == 100.0
    chart = fragment_chart([138.0662], [1.0], annotations, title="t").to_dict()
    assert chart["title"] == "t" and len(chart["layer"]) == 2
