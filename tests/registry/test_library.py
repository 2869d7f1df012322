"""The MS/MS reference library index: identity and analogue matches, polarity, exclusion,
the saved files (no pickle), staleness and rebuilds."""

import copy
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from ms_entropy import FlashEntropySearch
from sqlalchemy import text

from registry.db.connection import session_scope
from registry.ingest.files import iter_members
from registry.ingest.parsers.msms import parse_msms
from registry.library import saved_index
from registry.library.flash_index import (
    MAX_FRAGMENT_TOLERANCE,
    MZ_INDEX_STEP,
    LibraryIndex,
    LibraryOptions,
    build_index,
    clean_peaks,
    current_generation,
    index_spectra,
    polarity,
)
from registry.library.kernel import best, score
from registry.library.saved_index import (
    DamagedIndexError,
    load_index,
    refresh_index,
    save_index,
)
from tests.builders import mgf_block, write
from tests.conftest import ingest, shared

CAFFEINE = "Cn1cnc2c1c(=O)n(C)c(=O)n2C"  # [M+H]+ 195.0877
ETHYL = "CCn1c(=O)c2c(ncn2C)n(C)c1=O"  # caffeine + CH2, [M+H]+ 209.1033
THEOBROMINE = "Cn1cnc2c1c(=O)[nH]c(=O)n2C"  # [M+H]+ 181.0720
CH2 = 14.01565

CAFFEINE_PEAKS = [
    (42.0338, 20),
    (56.0495, 15),
    (69.0447, 30),
    (83.0604, 40),
    (110.0713, 60),
    (123.0427, 25),
    (138.0662, 100),
    (150.0662, 10),
]
# the analogue: fragments that keep the ethyl shift by CH2, the others stay
ETHYL_PEAKS = [
    (42.0338, 20),
    (56.0495, 15),
    (69.0447, 30),
    (83.0604, 40),
    (110.0713 + CH2, 60),
    (123.0427 + CH2, 25),
    (138.0662 + CH2, 100),
    (150.0662 + CH2, 10),
]
OTHER_PEAKS = [
    (67.0291, 30),
    (95.0240, 50),
    (124.0505, 100),
    (163.0614, 40),
    (135.0300, 20),
    (52.0182, 10),
]


def peaks(pairs) -> list[str]:
    return [f"{mz:.4f} {i}" for mz, i in pairs]


@pytest.fixture
def library_registry(engine, tmp_path):
    mgf = "".join(
        [
            mgf_block("caffeine-1", CAFFEINE, "195.0877", peaks(CAFFEINE_PEAKS)),
            mgf_block("ethyl-1", ETHYL, "209.1033", peaks(ETHYL_PEAKS)),
            mgf_block("theobromine-1", THEOBROMINE, "181.0720", peaks(OTHER_PEAKS)),
            # the caffeine spectrum again, measured in negative mode (another polarity)
            mgf_block(
                "caffeine-neg",
                CAFFEINE,
                "193.0731",
                peaks(CAFFEINE_PEAKS),
                IONMODE="negative",
                ADDUCT="",
            ),
        ]
    )
    ingest(engine, "msms", write(tmp_path, "lib.mgf", mgf), "handmade")
    return engine


def spectrum_ids(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT record_id, id FROM msms_spectrum")).all())


def query(pairs, precursor):
    mz, intensity = np.array(pairs).T
    return clean_peaks(mz, intensity, precursor)


def identity_matches(index: LibraryIndex, *args, **kwargs):
    return index.search(*args, **kwargs)[0]


def analogue_matches(index: LibraryIndex, *args, **kwargs):
    return index.search(*args, **kwargs)[1]


def test_identity_finds_the_own_spectrum_first_with_its_matched_peaks(library_registry, tmp_path):
    ids = spectrum_ids(library_registry)
    with session_scope(library_registry) as session:
        index = build_index(session)
    assert index.spectra == 4
    matches = identity_matches(
        index, 195.0877, query(CAFFEINE_PEAKS, 195.0877), 1, 10, LibraryOptions()
    )
    assert [m.spectrum_id for m in matches] == [ids["caffeine-1"]]  # not the negative one
    (best,) = matches
    assert best.score == pytest.approx(1.0, abs=1e-5)
    assert best.matched_peaks == 8 and best.search == "identity"
    assert best.precursor_mz == pytest.approx(195.0877, abs=1e-4)
    # the negative-mode query finds the negative-mode spectrum only
    negative = identity_matches(
        index, 193.0731, query(CAFFEINE_PEAKS, 193.0731), -1, 10, LibraryOptions()
    )
    assert [m.spectrum_id for m in negative] == [ids["caffeine-neg"]]
    # 10 ppm is 0.002 Da here: 0.01 Da off finds nothing, 100 ppm finds it again
    shifted = query(CAFFEINE_PEAKS, 195.0977)
    assert identity_matches(index, 195.0977, shifted, 1, 10, LibraryOptions()) == []
    assert len(identity_matches(index, 195.0977, shifted, 1, 100, LibraryOptions())) == 1
    # left out, the spectrum is not found
    excluded = identity_matches(
        index,
        195.0877,
        query(CAFFEINE_PEAKS, 195.0877),
        1,
        10,
        LibraryOptions(),
        frozenset({ids["caffeine-1"]}),
    )
    assert excluded == []


def test_analogue_search_finds_the_shifted_precursor_analogue(library_registry):
    ids = spectrum_ids(library_registry)
    with session_scope(library_registry) as session:
        index = build_index(session)
    q = query(CAFFEINE_PEAKS, 195.0877)
    analogues = analogue_matches(index, 195.0877, q, 1, 10, LibraryOptions())
    # the identical-precursor spectrum is an identity match, not an analogue
    assert analogues[0].spectrum_id == ids["ethyl-1"]
    assert analogues[0].search == "analogue" and analogues[0].score > 0.8
    assert ids["caffeine-1"] not in [m.spectrum_id for m in analogues]
    assert ids["caffeine-neg"] not in [m.spectrum_id for m in analogues]
    # shared fragments only: the plain open search scores it lower than hybrid search
    open_only = analogue_matches(index, None, q, 1, 10, LibraryOptions())
    ethyl_open = next(m for m in open_only if m.spectrum_id == ids["ethyl-1"])
    assert ethyl_open.score < analogues[0].score


def test_saved_index_has_no_pickle_and_knows_when_it_is_stale(library_registry, tmp_path):
    home = tmp_path / "home"
    with session_scope(library_registry) as session:
        index, rebuilt = refresh_index(session, home)
        assert rebuilt and index.generation == current_generation(session)
        again, rebuilt_again = refresh_index(session, home)
    assert not rebuilt_again and again is index
    pointer = json.loads((home / "library" / "msms.json").read_text())
    folder = home / "library" / pointer["folder"]
    assert not (folder / "metadata.npy").exists()  # ms_entropy's pickled metadata
    assert (home / "library").stat().st_mode & 0o077 == 0
    for name in ("ids.npy", "modes.npy"):
        np.load(folder / name, allow_pickle=False)
    loaded = load_index(home)
    assert loaded.spectra == 4 and sorted(loaded.modes.tolist()) == [-1, 1, 1, 1]
    # a new spectrum renews the generation: the saved index is stale until rebuilt
    ingest(
        library_registry,
        "msms",
        write(
            tmp_path,
            "more.mgf",
            mgf_block("theobromine-2", THEOBROMINE, "181.0720", peaks(OTHER_PEAKS[:5])),
        ),
        "handmade",
    )
    with session_scope(library_registry) as session:
        assert load_index(home).generation != current_generation(session)
        fresh, rebuilt = refresh_index(session, home)
    assert rebuilt and fresh.spectra == 5
    assert len(list((home / "library").glob("msms-*"))) == 1  # the old folder is gone


def test_a_damaged_index_is_never_searched(library_registry, tmp_path):
    """A file cut short (a full disk, a partial copy of MOLVIS_HOME) or changed in place (its
    checksum), or arrays whose lengths disagree, make the saved index damaged: loading it says which file, the search rebuilds it
    from the registry and says so in its notes, the ingest's refresh rebuilds it; an index of an
    older format is rebuilt as if there were none."""
    from molvis.workflows.library_match import Library

    home = tmp_path / "home"
    root = home / "library"

    def folder() -> Path:
        return root / json.loads((root / "msms.json").read_text())["folder"]

    with session_scope(library_registry) as session:
        refresh_index(session, home)
    cut = folder() / "all_ions_mz.npy"
    size = cut.stat().st_size
    cut.write_bytes(cut.read_bytes()[: size // 2])
    saved_index._loaded.clear()  # as a new process finds it
    with pytest.raises(
        DamagedIndexError, match=f"all_ions_mz.npy is {size // 2:,} bytes, {size:,} written"
    ):
        load_index(home)
    with session_scope(library_registry) as session:
        library = Library(session, home)
    assert library.index.spectra == 4
    assert library.notes == [
        f"library index {cut.parent}: all_ions_mz.npy is {size // 2:,} bytes, {size:,} written: "
        "rebuilt from the registry for this search"
    ]
    assert load_index(home).spectra == 4  # saved again, whole
    # one value changed in place: the size is as written, the checksum is not
    changed = folder() / "all_ions_intensity.npy"
    values = bytearray(changed.read_bytes())
    values[-1] ^= 0x40
    changed.write_bytes(bytes(values))
    saved_index._loaded.clear()
    with pytest.raises(
        DamagedIndexError,
        match=r"all_ions_intensity.npy has changed since it was written \(SHA-256\)",
    ):
        load_index(home)
    with session_scope(library_registry) as session:
        assert "SHA-256" in Library(session, home).notes[0]
    assert load_index(home).spectra == 4
    # arrays that disagree, their sizes and checksums as written
    np.save(folder() / "ids.npy", np.load(folder() / "ids.npy")[:2], allow_pickle=False)
    pointer = json.loads((root / "msms.json").read_text())
    pointer["files"]["ids.npy"] = saved_index.file_record(folder() / "ids.npy")
    (root / "msms.json").write_text(json.dumps(pointer))
    saved_index._loaded.clear()
    with pytest.raises(DamagedIndexError, match="its arrays disagree in length"):
        load_index(home)
    with session_scope(library_registry) as session:
        index, rebuilt = refresh_index(session, home)
    assert rebuilt and index.spectra == 4 and load_index(home).spectra == 4
    pointer = json.loads((root / "msms.json").read_text())
    (root / "msms.json").write_text(json.dumps(pointer | {"format": 3}))
    saved_index._loaded.clear()
    assert load_index(home) is None


def test_an_index_replaced_while_it_is_checked_is_not_called_damaged(
    library_registry, tmp_path, monkeypatch
):
    """A newer build removes the folder between the loader's look and its size or checksum
    check: the loader finds no index (the search then reads the new one), not a damaged one."""
    import shutil

    home = tmp_path / "home"
    with session_scope(library_registry) as session:
        refresh_index(session, home)
    saved_index._loaded.clear()
    check = saved_index._check_files

    def removed_meanwhile(folder, files):
        shutil.rmtree(folder)
        check(folder, files)

    monkeypatch.setattr(saved_index, "_check_files", removed_meanwhile)
    assert load_index(home) is None
    # removed between the size check and the checksums
    monkeypatch.setattr(saved_index, "_check_files", check)
    with session_scope(library_registry) as session:
        refresh_index(session, home, force=True)
    saved_index._loaded.clear()
    record = saved_index.file_record

    def removed_while_summed(path):
        shutil.rmtree(path.parent, ignore_errors=True)
        return record(path)

    monkeypatch.setattr(saved_index, "file_record", removed_while_summed)
    assert load_index(home) is None


def test_two_builds_at_once_leave_one_valid_index(library_registry, tmp_path):
    home, errors = tmp_path / "home", []

    def build() -> None:
        try:
            with session_scope(library_registry) as session:
                save_index(build_index(session), home)
        except Exception as exc:  # pragma: no cover - the assertion shows it
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert load_index(home).spectra == 4
    assert len(list((home / "library").glob("msms-*"))) == 1


def test_polarity_and_options():
    assert polarity("positive", None) == 1 and polarity(None, "[M-H]-") == -1
    assert polarity("negative", None) == -1 and polarity("negative", "[M+H]+") == -1
    assert polarity(None, "[M+Na]+") == 1 and polarity(None, None) == 0
    assert polarity(None, "[M-H]- ") == -1 and polarity(None, " [M+H]+ ") == 1
    assert polarity("unknown", "M+H") == 0
    with pytest.raises(ValueError, match="fragment tolerance 0.5 Da"):
        LibraryOptions(fragment_tolerance=0.5)
    with pytest.raises(ValueError, match="fragment tolerance 0 Da"):
        LibraryOptions(fragment_tolerance=0)
    with pytest.raises(ValueError, match="minimum matched peaks 0"):
        LibraryOptions(min_matched_peaks=0)
    with pytest.raises(ValueError, match="minimum library score 1.1: give 0-1"):
        LibraryOptions(min_score=1.1)
    with pytest.raises(ValueError, match="library weight -0.1: give 0 or more"):
        LibraryOptions(weight=-0.1)
    # the edges themselves are allowed
    LibraryOptions(fragment_tolerance=MAX_FRAGMENT_TOLERANCE, min_score=0, weight=0)
    LibraryOptions(min_score=1, min_matched_peaks=1)


def test_the_widest_fragment_tolerance_matches_peaks_that_far_apart():
    """The searcher is built for MAX_FRAGMENT_TOLERANCE, not ms_entropy's default of 0.02 Da:
    peaks 0.024 Da apart match at 0.025 and not at 0.02."""
    index = small_index((7, 195.0877, CAFFEINE_PEAKS, 1))
    shifted = [(mz + 0.024, i) for mz, i in CAFFEINE_PEAKS]
    wide = LibraryOptions(fragment_tolerance=MAX_FRAGMENT_TOLERANCE)
    (match,) = identity_matches(index, 195.0877, query(shifted, 195.0877), 1, 10, wide)
    assert match.score == pytest.approx(1.0, abs=1e-4)
    assert (
        identity_matches(index, 195.0877, query(shifted, 195.0877), 1, 10, LibraryOptions()) == []
    )


def massbank_spectra(n: int) -> list[dict]:
    """The first `n` MassBank spectra with a precursor, cleaned as the index holds them."""
    spectra: list[dict] = []
    for member in iter_members(shared("massbank", "massbank_ms2.mgf.gz")):
        for parsed in parse_msms(member, require_structure=False):
            r = parsed.record
            if r is None or not r.precursor_mz:
                continue
            cleaned = clean_peaks(r.mz, r.intensity, r.precursor_mz)
            if len(cleaned):
                spectra.append(
                    {
                        "id": 1000 + len(spectra),
                        "precursor_mz": float(r.precursor_mz),
                        "peaks": cleaned,
                        "mode": polarity(r.ion_mode, r.adduct),
                    }
                )
            if len(spectra) == n:
                return spectra
    return spectra


def ranked_by_full_sort(index: LibraryIndex, scores, mode: int, exclude, k: int):
    """The ranking as first written: every score of the library sorted, the other polarity
    and the excluded ids zeroed first."""
    scores = scores.copy()
    if mode:
        scores[index.modes == -mode] = 0
    scores[np.isin(index.ids, list(exclude))] = 0
    return [
        (int(index.ids[i]), float(scores[i]))
        for i in np.argsort(-scores, kind="stable")[:k]
        if scores[i] > 0
    ]


def assert_same_ranking(got, expected, pool, tolerance=1e-6):
    """`got` is the expected ranking to float32 rounding: scores within `tolerance` at each
    rank, and a different spectrum at a rank only where its score ties the expected one's
    (`pool`: the expected ranking continued past k)."""
    assert len(got) == len(expected)
    scores = dict(pool)
    for (got_id, got_score), (want_id, want_score) in zip(got, expected, strict=True):
        assert got_score == pytest.approx(want_score, abs=tolerance)
        if got_id != want_id:
            assert abs(scores[got_id] - want_score) <= 2 * tolerance


def test_best_is_a_stable_sort_of_the_positive_scores_of_the_polarity():
    rng = np.random.default_rng(3)
    scores = rng.choice(np.array([0, -0.1, 0.2, 0.5, 0.5, 0.9], np.float32), 2000)
    modes = rng.choice(np.array([1, -1, 0], np.int8), 2000)
    for mode in (1, -1, 0):
        kept = np.where((scores > 0) & (modes != -mode), scores, 0) if mode else scores
        order = np.argsort(-kept, kind="stable")
        for k in (1, 5, 50, 5000):
            expected = [i for i in order[:k] if kept[i] > 0]
            assert best(scores, modes, mode, k).tolist() == expected
    assert best(np.zeros(10, np.float32), np.zeros(10, np.int8), 1, 5).tolist() == []
    assert best(scores, modes, 1, 0).tolist() == []


def test_scores_and_rankings_are_ms_entropy_s_on_real_spectra():
    """The compiled scoring pass and the ranking of scored positions only give what
    ms_entropy's own searcher and a sort of every score give, on 3,000 MassBank spectra:
    hybrid, open and identity scores to float32 rounding, matched peak counts exactly."""
    spectra = massbank_spectra(3000)
    index = index_spectra(copy.deepcopy(spectra), "test")
    stock = FlashEntropySearch(
        max_ms2_tolerance_in_da=MAX_FRAGMENT_TOLERANCE, mz_index_step=MZ_INDEX_STEP
    )
    stock.build_index(copy.deepcopy(spectra), clean_spectra=False)
    options, ppm, compared = LibraryOptions(), 10.0, 0
    tolerance = options.fragment_tolerance
    for q in spectra[::37]:
        exclude = frozenset({q["id"]})
        mz, peaks, mode = q["precursor_mz"], q["peaks"], q["mode"]
        window = index._window(mz, mz * ppm * 1e-6)
        found = score(index.searcher.entropy_search, index.terms, mz, peaks, tolerance, window)
        hybrid = stock.hybrid_search(mz, peaks, tolerance)
        np.testing.assert_allclose(found.scores, hybrid, rtol=0, atol=1e-6)
        assert ((found.scores > 0) == (hybrid > 0)).all()
        scores, matched = stock.identity_search(
            mz, peaks, mz * ppm * 1e-6, tolerance, output_matched_peak_number=True
        )
        np.testing.assert_allclose(found.window, scores[window], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(found.matched, matched[window])
        shared = score(  # the query's peaks shared between two threads
            index.searcher.entropy_search, index.terms, mz, peaks, tolerance, window, split=0
        )
        np.testing.assert_allclose(shared.scores, hybrid, rtol=0, atol=1e-6)
        np.testing.assert_allclose(shared.window, scores[window], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(shared.matched, matched[window])
        assert not scores[: window.start].any() and not scores[window.stop :].any()
        open_search = score(
            index.searcher.entropy_search, index.terms, None, peaks, tolerance, slice(0, 0)
        )
        np.testing.assert_allclose(
            open_search.scores, stock.open_search(peaks, tolerance), rtol=0, atol=1e-6
        )

        got_identity, got_analogues = index.search(mz, peaks, mode, ppm, options, exclude)
        near = np.abs(stock.precursor_mz_array.astype(np.float64) - mz) <= mz * ppm * 1e-6
        hybrid[near] = 0
        assert_same_ranking(
            [(m.spectrum_id, m.score) for m in got_analogues],
            ranked_by_full_sort(index, hybrid, mode, exclude, 5),
            ranked_by_full_sort(index, hybrid, mode, exclude, 50),
        )
        expected = ranked_by_full_sort(index, scores, mode, exclude, 50)
        assert_same_ranking([(m.spectrum_id, m.score) for m in got_identity], expected, expected)
        assert [m.matched_peaks for m in got_identity] == [
            int(matched[np.flatnonzero(index.ids == m.spectrum_id)[0]]) for m in got_identity
        ]
        compared += len(expected) > 0
    assert compared > 20  # windows that held more than the query's own spectrum


def _scores_on_two_threads(index: LibraryIndex, query: dict) -> np.ndarray:
    return score(
        index.searcher.entropy_search,
        index.terms,
        query["precursor_mz"],
        query["peaks"],
        LibraryOptions().fragment_tolerance,
        slice(0, 0),
        split=0,
    ).scores


def _score_in_child(index: LibraryIndex, query: dict, results) -> None:
    results.put(_scores_on_two_threads(index, query).tolist())


@pytest.mark.timeout(120)
def test_a_forked_process_scores_on_two_threads_too():
    """The helper thread is per process: a child forked after the parent used its own still
    shares a query's peaks with a thread of its own (the parent's does not exist there)."""
    import multiprocessing

    spectra = massbank_spectra(300)
    index = index_spectra(copy.deepcopy(spectra), "test")
    query = spectra[5]
    parent = _scores_on_two_threads(index, query)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_score_in_child, args=(index, query, results), daemon=True)
    child.start()
    child_scores = results.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(np.array(child_scores, np.float32), parent)


@pytest.fixture
def one_precursor(engine, tmp_path):
    """Three spectra at caffeine's [M+H]+ precursor: two positive (the second a noisier copy),
    and one negative-mode spectrum at the same m/z (an odd adduct, not named: a record whose
    named adduct put its structure elsewhere would be rejected by the precursor check)."""
    noisy = CAFFEINE_PEAKS[:6] + [(97.0, 40), (99.0, 30)]
    mgf = "".join(
        [
            mgf_block("pos-1", CAFFEINE, "195.0877", peaks(CAFFEINE_PEAKS)),
            mgf_block("pos-2", CAFFEINE, "195.0877", peaks(noisy), CE="40"),
            mgf_block(
                "neg-same-mz",
                THEOBROMINE,
                "195.0877",
                peaks(CAFFEINE_PEAKS),
                IONMODE="negative",
                ADDUCT="",
            ),
        ]
    )
    ingest(engine, "msms", write(tmp_path, "one.mgf", mgf), "handmade")
    return engine


def test_identity_drops_the_other_polarity_and_returns_exactly_k(one_precursor):
    ids = spectrum_ids(one_precursor)
    with session_scope(one_precursor) as session:
        index = build_index(session)
    peaks_ = query(CAFFEINE_PEAKS, 195.0877)
    found = identity_matches(index, 195.0877, peaks_, 1, 10, LibraryOptions())
    assert [m.spectrum_id for m in found] == [ids["pos-1"], ids["pos-2"]]
    # a negative query at the same precursor finds the negative spectrum only
    negative = identity_matches(index, 195.0877, peaks_, -1, 10, LibraryOptions())
    assert [m.spectrum_id for m in negative] == [ids["neg-same-mz"]]
    # polarity unknown: all three
    assert len(identity_matches(index, 195.0877, peaks_, 0, 10, LibraryOptions())) == 3
    # k below the number of matches: exactly k, best first
    (one,) = identity_matches(index, 195.0877, peaks_, 1, 10, LibraryOptions(), k=1)
    assert one.spectrum_id == ids["pos-1"]
    assert len(identity_matches(index, 195.0877, peaks_, 0, 10, LibraryOptions(), k=2)) == 2
    # every spectrum compared at this precursor, whatever it scored: polarity and exclusion
    assert sorted(index.window_ids(195.0877, 10, 1, frozenset())) == sorted(
        [ids["pos-1"], ids["pos-2"]]
    )
    assert index.window_ids(195.0877, 10, 1, frozenset({ids["pos-1"]})) == [ids["pos-2"]]
    assert index.window_ids(195.0977, 10, 1, frozenset()) == []
    assert index.window_ids(None, 10, 1, frozenset()) == []


def test_entropy_similarity_is_the_identity_score(one_precursor):
    from registry.library.flash_index import entropy_similarity

    ids = spectrum_ids(one_precursor)
    with session_scope(one_precursor) as session:
        index = build_index(session)
        stored = dict(
            session.execute(
                text("SELECT id, mz FROM msms_spectrum WHERE id = :i"), {"i": ids["pos-2"]}
            ).all()
        )
        intensity = session.execute(
            text("SELECT intensity FROM msms_spectrum WHERE id = :i"), {"i": ids["pos-2"]}
        ).scalar_one()
    found = identity_matches(
        index, 195.0877, query(CAFFEINE_PEAKS, 195.0877), 1, 10, LibraryOptions()
    )
    score = next(m.score for m in found if m.spectrum_id == ids["pos-2"])
    mz, intensity_ = np.array(CAFFEINE_PEAKS).T
    similarity = entropy_similarity(
        (mz, intensity_), 195.0877, (stored[ids["pos-2"]], intensity), 195.0877
    )
    assert 0.3 < similarity < 0.99 and similarity == pytest.approx(score, abs=1e-5)
    assert entropy_similarity((mz, intensity_), 195.0877, (mz, intensity_), 195.0877) == (
        pytest.approx(1.0)
    )
    assert entropy_similarity(([], []), 195.0877, (mz, intensity_), 195.0877) == 0.0


def test_a_match_is_confident_on_score_and_peaks_together():
    from registry.library.flash_index import LibraryMatch

    options = LibraryOptions()

    def match(score, peaks, search="identity"):
        return LibraryMatch(1, score, peaks, 195.0877, search)

    assert options.confident(match(0.7, 6))  # both at their thresholds
    assert not options.confident(match(0.69, 20))  # many peaks, score below
    assert not options.confident(match(0.99, 5))  # high score, too few peaks
    assert not options.confident(match(0.99, None))
    assert options.confident(match(0.9, None, "ir")) and not options.confident(
        match(0.89, None, "ir")
    )


def small_index(*spectra: tuple[int, float, list, int]) -> LibraryIndex:
    """An index built straight from (id, precursor, peaks, polarity) without the registry."""
    return index_spectra(
        [
            {"id": i, "precursor_mz": p, "peaks": query(pairs, p), "mode": mode}
            for i, p, pairs, mode in spectra
        ],
        "g",
    )


def test_a_one_spectrum_index_has_a_window_and_the_window_is_ppm_wide():
    index = small_index((7, 195.0877, CAFFEINE_PEAKS, 1))
    assert index.window_ids(195.0877, 10, 1, frozenset()) == [7]
    # 195.0877 + 7.7 ppm: inside a 10 ppm window, outside a 5 ppm one
    assert index.window_ids(195.0892, 10, 1, frozenset()) == [7]
    assert index.window_ids(195.0892, 5, 1, frozenset()) == []
    found = identity_matches(
        index, 195.0892, query(CAFFEINE_PEAKS, 195.0892), 1, 10, LibraryOptions()
    )
    assert [m.spectrum_id for m in found] == [7]
    assert (
        identity_matches(index, 195.0892, query(CAFFEINE_PEAKS, 195.0892), 1, 5, LibraryOptions())
        == []
    )


def test_without_peaks_a_match_is_never_confident_however_low_the_peak_minimum():
    from registry.library.flash_index import LibraryMatch

    lenient = LibraryOptions(min_matched_peaks=1)
    assert lenient.confident(LibraryMatch(1, 0.99, 1, 195.0877, "identity"))
    assert not lenient.confident(LibraryMatch(1, 0.99, None, 195.0877, "analogue"))
    assert not lenient.confident(LibraryMatch(1, 0.99, 0, 195.0877, "identity"))


def test_entropy_similarity_removes_each_spectrums_own_precursor_region():
    from registry.library.flash_index import entropy_similarity

    mz, intensity = np.array(CAFFEINE_PEAKS).T
    # the same fragments, plus an intense peak 1 Da below the precursor on one side only
    with_precursor = (np.append(mz, 194.0877), np.append(intensity, 500.0))
    assert entropy_similarity(with_precursor, 195.0877, (mz, intensity), 195.0877) == (
        pytest.approx(1.0)
    )
    assert entropy_similarity((mz, intensity), 195.0877, with_precursor, 195.0877) == (
        pytest.approx(1.0)
    )
    # without a precursor nothing is removed: the extra peak costs similarity
    assert entropy_similarity(with_precursor, None, (mz, intensity), None) < 0.9
    # an empty side scores 0 whatever the other holds
    assert entropy_similarity((mz, intensity), 195.0877, ([], []), 195.0877) == 0.0


def test_build_reads_in_batches_cleans_each_precursor_and_reads_both_polarity_fields(
    engine, tmp_path, monkeypatch
):
    """Batches follow the id (one row per batch here), progress says rows read of the total,
    each stored spectrum loses its own precursor region, and the polarity comes from the ion
    mode, else the adduct."""
    import registry.library.flash_index as library

    big_precursor_peak = [*CAFFEINE_PEAKS, (194.5, 900)]  # within 1.6 Da of 195.0877
    mgf = "".join(
        [
            mgf_block("mode-only", CAFFEINE, "195.0877", peaks(big_precursor_peak)),
            mgf_block("adduct-only", ETHYL, "209.1033", peaks(ETHYL_PEAKS)),
            mgf_block("third", THEOBROMINE, "181.0720", peaks(OTHER_PEAKS)),
        ]
    )
    ingest(engine, "msms", write(tmp_path, "b.mgf", mgf), "handmade")
    ids = spectrum_ids(engine)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE msms_spectrum SET adduct = NULL WHERE id = :i"), {"i": ids["mode-only"]}
        )
        conn.execute(
            text("UPDATE msms_spectrum SET ion_mode = NULL, adduct = '[M-H]-' WHERE id = :i"),
            {"i": ids["adduct-only"]},
        )
        conn.execute(text("DELETE FROM library_state"))
    monkeypatch.setattr(library, "BATCH", 1)
    seen: list[tuple[int, int]] = []
    with session_scope(engine) as session:
        index = build_index(session, progress=lambda n, total: seen.append((n, total)))
    assert seen == [(1, 3)] * 3 and index.spectra == 3 and index.generation == ""
    modes = dict(zip(index.ids.tolist(), index.modes.tolist(), strict=True))
    assert modes[ids["mode-only"]] == 1 and modes[ids["adduct-only"]] == -1
    (own,) = identity_matches(
        index, 195.0877, query(CAFFEINE_PEAKS, 195.0877), 1, 10, LibraryOptions()
    )
    assert own.spectrum_id == ids["mode-only"] and own.score == pytest.approx(1.0, abs=1e-4)


def test_ties_keep_index_order_k_defaults_to_50_and_an_open_search_sees_position_0():
    """60 equal spectra at one precursor: the 50 of the default k, in index order (a stable
    sort); without a precursor the lowest-precursor spectrum is an analogue like any other."""
    same = [(i, 195.0877, CAFFEINE_PEAKS, 1) for i in range(1, 61)]
    index = small_index(*same)
    found = identity_matches(
        index, 195.0877, query(CAFFEINE_PEAKS, 195.0877), 1, 10, LibraryOptions()
    )
    assert [m.spectrum_id for m in found] == index.ids[:50].tolist()
    low = small_index((1, 150.0, CAFFEINE_PEAKS, 1), (2, 300.0, OTHER_PEAKS, 1))
    analogues = analogue_matches(low, None, query(CAFFEINE_PEAKS, None), 1, 10, LibraryOptions())
    assert [m.spectrum_id for m in analogues] == [1]


def test_the_window_holds_a_precursor_exactly_at_its_upper_edge():
    index = small_index((7, 195.0877, CAFFEINE_PEAKS, 1))
    edge = float(index.precursors[0])
    centre = edge - 0.002
    tolerance = edge - centre
    while centre + tolerance > edge:
        tolerance = np.nextafter(tolerance, 0)
    while centre + tolerance < edge:
        tolerance = np.nextafter(tolerance, 1)
    assert centre + tolerance == edge
    assert index._window(centre, tolerance) == slice(0, 1)
    assert index._window(edge + tolerance, tolerance) == slice(0, 1)  # the lower edge too
