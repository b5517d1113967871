"""Recall and precision on the structural corpus (tests/phi/corpus_structure.py): both must be 100%."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dicomaudit.phi import analyze_paths
from tests.phi.corpus import KEY_NAME, AnswerKey, score
from tests.phi.corpus_structure import SCENARIOS, generate_structure_corpus


@pytest.fixture(scope="module")
def structure_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AnswerKey]:
    """The structural corpus: 8 files per scenario, broken and legal hand-encoded sequences."""
    root = tmp_path_factory.mktemp("phi_structure_corpus")
    return root, generate_structure_corpus(root, n_files=8 * len(SCENARIOS), seed=2025)


@pytest.fixture(scope="module")
def result(structure_corpus):
    root, _ = structure_corpus
    return analyze_paths([root], show_values=True)


def test_recall_and_precision_are_complete(structure_corpus, result):
    """Given the structural corpus and its answer key, when the folder is analysed, then every identifying
    element is found (accents, transliterations, caret names, person codes, ages over 89) and nothing else."""
    root, key = structure_corpus
    s = score(result, key, root)
    assert s.missed == () and s.spurious == ()
    assert (s.recall, s.precision) == (1.0, 1.0)


def test_no_decoy_is_reported(structure_corpus, result):
    """Given role placeholders, ages of 89 and under, clinical caret codes and concept names in the corpus,
    when analysed, then none of them is a finding."""
    root, key = structure_corpus
    assert score(result, key, root).decoys_reported == ()


def test_every_broken_sequence_is_an_error_and_no_legal_one_is(structure_corpus, result):
    """Given hand-encoded files with broken sequences and with legal empty ones, when analysed, then exactly the
    broken ones are errors, each with a reason, and the legal ones are analysed."""
    root, key = structure_corpus
    s = score(result, key, root)
    assert s.malformed_not_reported == () and s.unexpected_errors == ()
    assert {Path(e.source).parent.name for e in result.errors} == {"structure_malformed"}
    assert all(e.error.startswith(("malformed DICOM file:", "truncated DICOM file:")) for e in result.errors)


def test_error_reasons_carry_no_value_of_the_broken_element(structure_corpus, result):
    """Given broken sequences whose bytes hold a physician's name, when reported, then no reason shows it."""
    names = {f.value.split("^")[0] for f in result.findings if f.path.endswith("RequestingPhysician")}
    assert names and not any(n in e.error for n in names for e in result.errors)


def test_every_new_rule_fires(result):
    """Given the corpus, then each rule the structural classes introduced is exercised."""
    rules = {f.rule for f in result.findings}
    assert {
        "free-text.propagation", "private.propagation", "propagation", "private.caret-name",
        "free-text.caret-name", "caret-name", "person-code", "safe-harbor.age", "free-text.id",
    } <= rules  # fmt: skip


def test_key_covers_every_scenario_and_is_saved(structure_corpus):
    """Given the generated corpus, then each scenario contributes identifying labels and decoys, and the key
    round-trips from disk."""
    root, key = structure_corpus
    with_ident = {rel.split("/")[0] for rel, _ in key.identifying}
    with_decoys = {rel.split("/")[0] for rel, _ in key.decoys}
    assert set(SCENARIOS) <= with_ident and set(SCENARIOS) <= with_decoys
    assert AnswerKey.load(root) == key
    assert json.loads((root / KEY_NAME).read_text(encoding="utf-8"))["malformed"]


def test_every_character_set_is_present(structure_corpus):
    """Given the corpus, then it holds files in ISO_IR 100, 126, 144 and 192."""
    root, _ = structure_corpus
    data = b"".join(p.read_bytes()[:2048] for p in root.rglob("*.dcm"))
    assert all(cs in data for cs in (b"ISO_IR 100", b"ISO_IR 126", b"ISO_IR 144", b"ISO_IR 192"))


def test_default_output_carries_no_unmasked_value(structure_corpus, result):
    """Given the default (masked) run, then no identifying value found appears in the serialised result."""
    root, _ = structure_corpus
    masked = json.dumps(analyze_paths([root]).to_dict(), ensure_ascii=False)
    leaked = {f.value for f in result.findings if len(f.value) >= 4 and f.value in masked}
    assert leaked == set()


def test_parallel_run_finds_the_same(structure_corpus, result):
    """Given two worker processes, when the corpus is analysed, then findings and errors are those of the serial
    run (the roles travel to the workers)."""
    root, _ = structure_corpus
    parallel = analyze_paths([root], show_values=True, workers=2)
    assert sorted((f.source, f.path, f.rule) for f in parallel.findings) == sorted(
        (f.source, f.path, f.rule) for f in result.findings
    )
    assert parallel.errors == result.errors
