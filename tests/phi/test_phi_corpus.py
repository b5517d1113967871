"""Recall and precision on the labelled synthetic corpus: both must be 100%."""

from __future__ import annotations

import json

from dicomaudit.phi import analyze_paths
from tests.phi.corpus import KEY_NAME, SCENARIOS, AnswerKey, score


def test_recall_and_precision_are_complete(corpus):
    """Given the corpus and its answer key, when the folder is analysed, then
    every identifying element is found and nothing else is reported."""
    root, key = corpus
    s = score(analyze_paths([root]), key, root)
    assert s.missed == () and s.spurious == ()
    assert (s.recall, s.precision) == (1.0, 1.0)


def test_no_decoy_is_reported(corpus):
    root, key = corpus
    assert score(analyze_paths([root]), key, root).decoys_reported == ()


def test_every_malformed_file_is_an_error_and_nothing_else_is(corpus):
    root, key = corpus
    s = score(analyze_paths([root]), key, root)
    assert s.malformed_not_reported == () and s.unexpected_errors == ()


def test_properly_deidentified_files_have_no_findings(corpus):
    root, _ = corpus
    result = analyze_paths([root / "deid_anonymizer", root / "deid_pseudonym"])
    assert result.files_scanned > 0 and result.findings == ()


def test_key_covers_every_scenario_and_is_saved(corpus):
    """The key is not trivial: each scenario contributes labels; it round-trips from disk."""
    root, key = corpus
    folders = {rel.split("/")[0] for rel, _ in key.identifying | key.decoys}
    assert set(SCENARIOS) - {"charset"} <= folders | {"charset_broken"}
    assert AnswerKey.load(root) == key
    assert json.loads((root / KEY_NAME).read_text())["malformed"]


def test_default_output_carries_no_unmasked_value(corpus):
    """Given the default (masked) run, then no identifying value of the corpus
    appears anywhere in the serialised findings."""
    root, _ = corpus
    masked = json.dumps(analyze_paths([root]).to_dict(), ensure_ascii=False)
    raw = analyze_paths([root], show_values=True)
    leaked = {f.value for f in raw.findings if len(f.value) >= 4 and f.value in masked}
    assert leaked == set()


def test_files_that_are_plainly_not_dicom_are_skipped_not_errors(corpus):
    """Given the corpus folder, which holds a memo, a README, JSON, CSV and a PNG next to the DICOM files,
    when the folder is analysed, then exactly those files are counted as skipped and none is an error."""
    root, key = corpus
    s = score(analyze_paths([root]), key, root)
    assert key.not_dicom and s.not_dicom_not_skipped == () and s.unexpected_skips == ()
