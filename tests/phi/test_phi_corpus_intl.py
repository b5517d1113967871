"""Recall and precision on the international corpus (tests/phi/corpus_intl.py): both must be 100%.

Two ways of running the analyzer:

* as it is today -- ``analyze_paths``, which calls ``detect(text)`` without a
  context: every identifying value but the *regional* ones (national phone
  numbers without a label right before them) must be found, nothing else;
* with the data set's regions -- what the analyzer does once it passes
  ``DetectionContext(infer_regions(ds))`` to ``detect``.  Until then these
  tests simulate it (``_analyze_with_regions``: ``analyze_dataset`` per file,
  its module-level ``detect`` replaced by one bound to the file's context).

The analyzer now passes ``context_for(ds, regions)`` to ``detect``:
``test_analyze_paths_finds_regional_phone_numbers`` checks it end to end.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread

from dicomaudit.phi import analyze_paths, analyzer
from dicomaudit.phi.categories import Kind
from dicomaudit.phi.detectors import detect
from dicomaudit.phi.inputs import NotDicom, discover, read_dataset
from dicomaudit.phi.locale import DetectionContext, context_for, infer_regions
from tests.phi.corpus import score
from tests.phi.corpus_intl import (
    CLINICAL_SENTENCES,
    CLINICAL_SENTENCES_ROUND_1,
    CLINICAL_SENTENCES_ROUND_2,
    KNOWN_FALSE_POSITIVES,
    KNOWN_MISSES,
    SETTINGS,
    IntlKey,
    detector_scores,
    generate_intl_corpus,
    score_intl,
)


@pytest.fixture(scope="module")
def intl_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IntlKey]:
    """The international corpus: 4 files per setting (every case of each language at least once)."""
    root = tmp_path_factory.mktemp("phi_intl")
    key = generate_intl_corpus(root, n_files=4 * len(SETTINGS), seed=2025)
    return root, key


def _analyze_with_regions(root: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What ``analyze_paths([root])`` gives once analyzer.py passes each data set's regions to detect()."""
    files, _ = discover([root])
    findings: list[Any] = []
    errors: list[Any] = []
    skipped: list[str] = []
    for item in files:
        try:
            ds = read_dataset(item.path)  # as the runner reads: malformed files are errors
        except NotDicom:
            skipped.append(item.source)
            continue
        except Exception:  # noqa: BLE001 - UnreadableInput, RecursionError...: errors, as analyze_paths says
            errors.append(types.SimpleNamespace(source=item.source))
            continue
        context = context_for(ds)

        def bound(text: str, context_: DetectionContext | None = None, _c: DetectionContext = context) -> set[Kind]:
            return detect(text, _c)

        monkeypatch.setattr(analyzer, "detect", bound)
        try:
            findings += analyzer.analyze_dataset(ds, item.source)
        except analyzer.PhiAnalysisError:
            errors.append(types.SimpleNamespace(source=item.source))
    monkeypatch.undo()
    return types.SimpleNamespace(findings=tuple(findings), errors=tuple(errors), skipped=tuple(skipped))


def _values(root: Path, pairs: Iterator[tuple[str, str]] | tuple[tuple[str, str], ...]) -> list[str]:
    """The element values of (file, path) pairs, for readable failures (synthetic data only)."""
    out = []
    for rel, path in pairs:
        ds = dcmread(root / rel)
        keyword = path.split(".")[-1]
        out.append(f"{rel} {path}: {ds.get(keyword).value if keyword in ds else '?'}")
    return out


# -- the analyzer as it is today -------------------------------------------------------


def test_recall_and_precision_without_regions_are_complete(intl_corpus):
    """Given the international corpus, when analysed as today (detect(text) without a context), then
    every identifying value but the regional phone numbers is found and nothing else is reported."""
    root, key = intl_corpus
    s = score_intl(analyze_paths([root]), key, root, with_regions=False)
    assert (_values(root, s.missed), _values(root, s.spurious)) == ([], [])
    assert (s.recall, s.precision) == (1.0, 1.0)


def test_no_intl_decoy_is_reported(intl_corpus):
    """Given clinical text with month words, doses, serials and capitalised clinical words in 13 settings,
    when analysed, then none of it is reported."""
    root, key = intl_corpus
    assert score_intl(analyze_paths([root]), key, root, with_regions=False).decoys_reported == ()


def test_corpus_covers_every_setting_and_kind(intl_corpus):
    """The key is not trivial: every setting has files, identifying values, decoys, and regional cases exist."""
    root, key = intl_corpus
    folders = {rel.split("/")[0] for rel, _ in key.identifying | key.decoys}
    assert folders == {s.name for s in SETTINGS}
    assert key.regional and key.regional <= key.identifying
    assert IntlKey.load(root) == key


def test_every_file_declares_the_regions_infer_regions_finds(intl_corpus):
    """Given each file's SpecificCharacterSet and InstitutionAddress, then infer_regions gives the regions
    its setting declares (the context the analyzer will pass)."""
    root, key = intl_corpus
    got = {rel: list(infer_regions(dcmread(root / rel, stop_before_pixels=True))) for rel in key.regions}
    assert got == key.regions


# -- with the data set's regions (simulated until the analyzer passes them) ---------------


def test_recall_and_precision_with_regions_are_complete(intl_corpus, monkeypatch):
    """CONTEXT-SIMULATED.  Given the international corpus, when each data set's text is detected with
    DetectionContext(infer_regions(ds)), then everything identifying is found, the regional national
    phone numbers included, and nothing else."""
    root, key = intl_corpus
    s = score_intl(_analyze_with_regions(root, monkeypatch), key, root, with_regions=True)
    assert (_values(root, s.missed), _values(root, s.spurious)) == ([], [])
    assert (s.recall, s.precision) == (1.0, 1.0)


def test_existing_corpus_stays_complete_with_regions(corpus, monkeypatch):
    """CONTEXT-SIMULATED.  Given the original corpus (ISO_IR 100 everywhere: the 17 Latin-1 regions are
    checked), when detected with each data set's regions, then recall and precision stay 100%."""
    root, key = corpus
    s = score(_analyze_with_regions(root, monkeypatch), key, root)
    assert (s.missed, s.spurious, s.unexpected_errors, s.malformed_not_reported) == ((), (), (), ())


def test_analyze_paths_finds_regional_phone_numbers(intl_corpus):
    """Given the international corpus, when analyze_paths runs (the analyzer infers each data set's regions),
    then the regional phone numbers are found too: 100% recall and precision on the whole key."""
    root, key = intl_corpus
    s = score_intl(analyze_paths([root]), key, root, with_regions=True)
    assert (s.recall, s.precision) == (1.0, 1.0)


# -- labelled clinical sentences: precision and recall per detector ------------------------


def _detect(text: str, regions: tuple[str, ...]) -> set[Kind]:
    return detect(text, DetectionContext(regions))


@pytest.mark.parametrize(
    ("sentences", "floor"),
    [(CLINICAL_SENTENCES_ROUND_1, 0.9), (CLINICAL_SENTENCES_ROUND_2, 0.85)],
    ids=["round-1", "round-2"],
)
def test_precision_and_recall_per_detector_on_clinical_sentences(sentences, floor):
    """Given the labelled clinical sentences (15 languages, with and without identifiers), when detected
    with their regions, then each detector's precision and recall stay at or above the floor measured
    when they were written (the report prints the numbers)."""
    scores = detector_scores(sentences, _detect)
    table = {k.value: (s.tp, s.fp, s.fn, round(s.precision, 2), round(s.recall, 2)) for k, s in scores.items()}
    assert all(s.precision >= floor and s.recall >= floor for s in scores.values()), table


def test_known_misses_and_false_positives_are_the_only_errors():
    """Given the clinical sentences, then every error is a documented one (KNOWN_MISSES,
    KNOWN_FALSE_POSITIVES): a new miss or a fixed one shows here."""
    misses, false_positives = set(), set()
    for text, regions, expected in CLINICAL_SENTENCES:
        got = _detect(text, regions) - {Kind.ID}
        misses |= {(text, k) for k in expected - got}
        false_positives |= {(text, k) for k in got - expected}
    assert (misses, false_positives) == (set(KNOWN_MISSES), set(KNOWN_FALSE_POSITIVES))
