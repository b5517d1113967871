"""mask_value: at most the first character, fixed length."""

from __future__ import annotations

import pytest

from dicomaudit.phi import mask_value


@pytest.mark.parametrize("value", ["Li^Wu", "Abernathy-Whitfield^Marie-Christine", "19790214"])
def test_masks_have_one_length_whatever_the_value(value):
    assert len(mask_value(value)) == 6 and mask_value(value)[1:] == "*****"


def test_first_character_is_kept_for_longer_values():
    assert mask_value("Okafor^Priya") == "O*****"


def test_short_values_reveal_nothing():
    assert mask_value("Li") == "******"


def test_empty_value_stays_empty():
    assert mask_value("  ") == ""
