"""Plant each bug the reviews of issue 30 and 31 named in the Python code, one at a time, run
the tests that cover its module, and restore the file: each must make a test fail. mutmut's
operators do not write these (a swapped condition, a filter dropped, a column filled from the
wrong field), so they are listed here by hand.

Run: python -m tests.mutation.planted_bugs (make mutate runs it). Exit 1 if any survives."""

from __future__ import annotations

import sys

from tests.mutation.planting import REPO, CannotPlant, planted, tests_pass

# (what the bug does, file, text in it, what the bug puts there, the tests that cover it)
BUGS = [
    (
        "identity keeps the other polarity",
        "registry/library/flash_index.py",
        "positions = positions[self.modes[positions] != -mode]",
        "positions = positions",
        "tests/registry/test_library.py::test_identity_drops_the_other_polarity_and_returns_exactly_k",
    ),
    (
        "identity returns k-1",
        "registry/library/flash_index.py",
        'kind="stable")[:k]]',
        'kind="stable")[: k - 1]]',
        "tests/registry/test_library.py::test_identity_drops_the_other_polarity_and_returns_exactly_k",
    ),
    (
        "confident on score or peaks",
        "registry/library/flash_index.py",
        "return match.score >= self.min_score and (",
        "return match.score >= self.min_score or (",
        "tests/registry/test_library.py::test_a_match_is_confident_on_score_and_peaks_together",
    ),
    (
        "level 4 checked before 3",
        "molvis/workflows/evidence.py",
        '    if spectral_support(library, hit) and (mass or agrees):\n        return "3"\n    if agrees:\n        return "4"',
        '    if agrees:\n        return "4"\n    if spectral_support(library, hit) and (mass or agrees):\n        return "3"',
        "tests/molvis/test_evidence.py",
    ),
    (
        "calibration fit leaks the query's own spectrum",
        "molvis/workflows/library_evaluation.py",
        "own = frozenset({row.measurement_id})",
        "own = frozenset()",
        "tests/molvis/test_search_cli.py::test_the_calibration_never_sees_what_it_is_judged_on",
    ),
    (
        "CCS p95 stored as a fraction",
        "molvis/workflows/ccs_prediction.py",
        "p95 = float(np.percentile(val_errors, 95))",
        "p95 = float(np.percentile(val_errors, 95)) / 100",
        "tests/molvis/test_ccs_cli.py::test_ccs_train_registers_an_active_predictor_with_its_errors",
    ),
    (
        "predicted_by_skeleton ignores the adduct",
        "registry/learned/ccs_predictions.py",
        '"AND p.adduct = :adduct AND left(c.inchikey, 14) = ANY (:keys)"',
        '"AND left(c.inchikey, 14) = ANY (:keys)"',
        "tests/registry/test_ccs_prediction.py::test_each_adduct_has_its_own_prediction",
    ),
    (
        "supersession ignores the source",
        "registry/ingest/store.py",
        "AND old.source_id = new.source_id AND old.record_id",
        "AND old.record_id",
        "tests/registry/test_faults.py::test_supersession_needs_the_same_source_and_a_real_accession",
    ),
    (
        "records without accession supersede by title",
        "registry/ingest/store.py",
        '"msms_spectrum": "new.metadata ? \'spectrum_id\'",',
        '"msms_spectrum": "TRUE",',
        "tests/registry/test_faults.py::test_supersession_needs_the_same_source_and_a_real_accession",
    ),
    (
        "TSV matched_peaks holds the library score",
        "molvis/workflows/export.py",
        '"matched_peaks": library.get("matched_peaks"),',
        '"matched_peaks": library.get("score"),',
        "tests/molvis/test_export.py",
    ),
    (
        "TSV reference_adduct holds the query's adduct",
        "molvis/workflows/export.py",
        '"reference_adduct": library.get("adduct"),',
        '"reference_adduct": result["adduct"],',
        "tests/molvis/test_export.py",
    ),
    (
        "CCS within-3 % edge with <",
        "models/ccs_train.py",
        "np.mean(errors <= 3.0)",
        "np.mean(errors < 3.0)",
        "tests/models/test_ccs.py::test_errors_are_percent_and_the_search_window_rounds_them_up",
    ),
    (
        "level 3 on a negative model score",
        "molvis/workflows/evidence.py",
        "if any(hit.scores.get(m, 0.0) > 0 for m in SPECTRAL):",
        "if any(m in hit.scores for m in SPECTRAL):",
        "tests/molvis/test_evidence.py",
    ),
    (
        "level 5 without a mass",
        "molvis/workflows/evidence.py",
        'return "5" if mass else None',
        'return "5"',
        "tests/molvis/test_evidence.py",
    ),
    (
        "a query's probabilities not kept below 1",
        "models/calibration.py",
        "        if below > room:",
        "        if False:",
        "tests/models/test_calibration.py",
    ),
    (
        "typed precursor replaces silently",
        "molvis/workflows/query.py",
        "        q.notes += _overrides(spectrum, fields.precursor_mz, adduct)\n",
        "",
        "tests/molvis/test_query.py",
    ),
    (
        "an adduct one ion short of the threshold is known",
        "models/ccs_train.py",
        "for key, n in counts.most_common() if n >= minimum",
        "for key, n in counts.most_common() if n >= minimum - 1",
        "tests/models/test_ccs.py::test_known_adducts_need_the_minimum_of_training_ions_counted_over_spellings",
    ),
    (
        "CCS interval calibrated to 90 %",
        "models/ccs_train.py",
        "np.percentile(errors - scale * deviation, 95)",
        "np.percentile(errors - scale * deviation, 90)",
        "tests/models/test_ccs.py::test_the_interval_is_calibrated_to_95_percent_and_uses_the_deviation_where_it_tells",
    ),
    (
        "a changed shipped CCS predictor is never registered again",
        "molvis/workflows/ccs_prediction.py",
        'if registered is not None and registered.version == saved["version"]:',
        "if registered is not None:",
        "tests/registry/test_ccs_prediction.py::test_a_changed_shipped_predictor_is_registered_again_and_refilled",
    ),
    (
        "a new CCS predictor version keeps the old one's predictions",
        "registry/learned/ccs_predictions.py",
        "AND r.name = :name AND r.version <> :version",
        "AND r.name = :name AND false",
        "tests/registry/test_ccs_prediction.py::test_a_new_version_under_a_known_name_clears_its_predictions",
    ),
    (
        "the CCS backfill ignores which adducts were stored",
        "registry/learned/ccs_predictions.py",
        "AND (CAST(:marker AS text) IS NULL OR p.adduct = :marker))",
        "AND CAST(:marker AS text) IS NOT DISTINCT FROM :marker)",
        "tests/registry/test_ccs_prediction.py::test_backfill_predicts_every_compound_once_and_a_rerun_changes_nothing",
    ),
    (
        "a cut bond seen from the wrong side",
        "models/fragment_features.py",
        "begin_in = inside[:, ends[:, 0]] * outside[:, ends[:, 1]]",
        "begin_in = outside[:, ends[:, 0]] * inside[:, ends[:, 1]]",
        "tests/models/test_fragment_model.py::test_a_piece_is_described_by_what_it_keeps_what_it_loses_and_the_bond_cut",
    ),
    (
        "the forward model's ions not normalised per spectrum",
        "models/fragment_model.py",
        "log_share = shifted - torch.log(total[owner])",
        "log_share = shifted",
        "tests/models/test_fragment_model.py::test_the_loss_is_the_cross_entropy_of_measured_and_predicted_peak_shares",
    ),
    (
        "a predicted peak takes its strongest ion, not their sum",
        "models/fragment_model.py",
        "np.add.at(summed, peak_of, share)",
        "np.maximum.at(summed, peak_of, share)",
        "tests/models/test_fragment_model.py::test_ions_within_a_millidalton_are_one_peak_with_their_summed_share",
    ),
    (
        "a key-only spectrum's precursor not checked at ingest",
        "registry/ingest/pipeline.py",
        "key_only_precursor(item.record, masses.get(item.inchikey))",
        "key_only_precursor(item.record, None if item.record.precursor_mz else masses.get(item.inchikey))",
        "tests/registry/test_faults.py::test_a_key_only_spectrum_whose_precursor_is_not_its_compound_s_ion_stays_a_reject",
    ),
    (
        "a pending spectrum's precursor not checked when its compound arrives",
        "registry/ingest/rejects.py",
        "problem = _precursor_problem(r.pending_row, r.monoisotopic_mass)",
        "problem = None",
        "tests/registry/test_faults.py::test_a_key_only_spectrum_whose_precursor_is_not_its_compound_s_ion_stays_a_reject",
    ),
    (
        "a ranker fitted with another forward model ranks anyway",
        "models/ranker.py",
        "if self.forward_model and forward_model and forward_model != self.forward_model:",
        "if self.forward_model and forward_model and forward_model == self.forward_model:",
        "tests/models/test_ranker.py::test_a_ranker_fitted_with_another_forward_model_is_refused",
    ),
    (
        "a registry keeps the shipped model's old ranker after an upgrade",
        "molvis/workflows/model_loading.py",
        "if shipped is None or info.ranker == shipped:",
        "if shipped is None or info.ranker is not None:",
        "tests/molvis/test_model_upgrade.py::test_a_shipped_model_s_stored_ranker_follows_the_ranker_shipped_beside_it",
    ),
    (
        "a library index file changed in place is searched (its checksum unread)",
        "registry/library/saved_index.py",
        'if digest != written["sha256"]:',
        'if digest != written["sha256"] and False:',
        "tests/registry/test_library.py::test_a_damaged_index_is_never_searched",
    ),
    (
        "a search's hits take the hand order's probability whatever order ranked them",
        "molvis/workflows/search.py",
        'loaded_calibration(loaded, "learned" if order else "hand")',
        'loaded_calibration(loaded, "hand")',
        "tests/molvis/test_ranking.py::test_the_command_line_ranks_by_the_stored_ranker_or_by_hand",
    ),
    (
        "a shipped model's row lacking an order's fit never takes the shipped one",
        "molvis/workflows/search.py",
        "    if order not in fits:  # the shipped file",
        "    if False:  # the shipped file",
        "tests/molvis/test_model_upgrade.py::test_a_shipped_model_s_row_takes_the_shipped_fit_of_an_order_it_lacks",
    ),
    (
        "refitting one order's calibration drops the other order's",
        "molvis/workflows/library_evaluation.py",
        "with_order(loaded.info.calibration, ranker, calibration.to_dict())",
        "with_order(None, ranker, calibration.to_dict())",
        "tests/molvis/test_search_cli.py::test_the_library_rates_can_be_measured_in_the_learned_order",
    ),
    (
        "a ring bond taken for a bridge",
        "registry/chem/cleavage.py",
        "if low[node] > order[parent]:",
        "if low[node] >= order[parent]:",
        "tests/registry/test_fragmenter.py",
    ),
    (
        "ring pair split judged against one atom too few",
        "registry/chem/cleavage.py",
        "if not np.any(arc & (after[j + 1] | before[i + 1])):",
        "if not np.any(arc & (after[j + 1] | before[i])):",
        "tests/registry/test_fragmenter.py",
    ),
    (
        "a ring cut where only part of the ring is left",
        "registry/chem/cleavage.py",
        "inside = inside and _has(piece, a)",
        "inside = inside or _has(piece, a)",
        "tests/registry/test_fragmenter.py",
    ),
    (
        "atoms past 64 written into the first word",
        "registry/chem/cleavage.py",
        "    words[i >> 6] |= ONE << np.uint64(i & 63)",
        "    words[0] |= ONE << np.uint64(i & 63)",
        "tests/registry/test_fragmenter.py",
    ),
    (
        "every piece taken for a first step's",
        "registry/chem/cleavage.py",
        "                steps[count] = step\n",
        "                steps[count] = 1\n",
        "tests/registry/test_fragmenter.py",
    ),
    (
        "pieces kept as views of the cutting's buffers",
        "registry/chem/fragmenter.py",
        'words, steps = np.array(words, dtype="<u8"), np.array(steps)',
        "words, steps = np.ascontiguousarray(words), steps",
        "tests/registry/test_fragmenter.py",
    ),
]


def main() -> int:
    survivors = []
    for name, file, before, after, tests in BUGS:
        try:
            with planted(REPO / file, before, after):
                caught = not tests_pass([tests])
        except CannotPlant as exc:
            print(f"cannot plant {name!r}: {exc}")
            return 1
        print(f"{'caught  ' if caught else 'SURVIVED'}  {name}", flush=True)
        if not caught:
            survivors.append(name)
    print(f"{len(BUGS) - len(survivors)} of {len(BUGS)} planted bugs caught")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
