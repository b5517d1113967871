"""What ships in the package, and what does not."""

from __future__ import annotations

import importlib.util


def test_the_phi_test_corpus_generator_is_not_part_of_the_package() -> None:
    """Given the installed package, then the labelled PHI corpus generator (test tooling) is not in it."""
    assert importlib.util.find_spec("dicomaudit.phi.corpus") is None
    assert importlib.util.find_spec("tests.phi.corpus") is not None
