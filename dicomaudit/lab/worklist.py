"""Modality Worklist C-FIND matching (PS3.4 K.6.1.2) over in-memory worklist items.

Each worklist item is one Requested Procedure with its Scheduled Procedure
Step(s) (:func:`dicomaudit.synth.generate_worklist`).  The identifier is
matched key by key, with the same value matching as the Query/Retrieve model
(:func:`dicomaudit.lab.matching.element_matches`: universal, single value,
wildcard with PN case-insensitive, list of UID, DA/TM/DT range), plus
Sequence Matching (PS3.4 C.2.2.2.6), which Table K.6-1 needs for the
Scheduled Procedure Step Sequence:

- a sequence key with one item matches an entity when at least one item of
  the entity's sequence matches every key of that item; the response carries
  the matching items, each with only the requested attributes (an item whose
  keys are all empty is all return keys: every item matches);
- a sequence key with no item (zero length) is universal: the entity's whole
  sequence is returned.

There is no Query/Retrieve Level in this model (K.6.1.1.2): a
``QueryRetrieveLevel`` in the identifier is ignored.  Date and time ranges
on a date/time pair are matched independently (combined datetime matching
needs extended negotiation, C.2.2.2.5.1, which the lab does not offer).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from dicomaudit.lab.matching import element_matches

MODALITY_WORKLIST_FIND = UID("1.2.840.10008.5.1.4.31")

# Elements describing the query itself, never matched nor returned as keys.
_CONTROL_KEYWORDS = frozenset({"QueryRetrieveLevel", "SpecificCharacterSet"})


def find(items: Iterable[Dataset], identifier: Dataset) -> Iterator[Dataset]:
    """Yield the response identifiers of the worklist items matching `identifier`, lazily."""
    for item in items:
        response = _match(item, identifier)
        if response is None:
            continue
        if "SpecificCharacterSet" in item:
            # So the receiver decodes accented names the way they were stored.
            response.SpecificCharacterSet = item.SpecificCharacterSet
        yield response


def _keys(identifier: Dataset) -> Iterator[DataElement]:
    for elem in identifier:
        if elem.tag.group in (0x0000, 0x0002) or elem.tag.is_private:
            continue  # command/meta groups and private keys we do not understand
        if elem.keyword in _CONTROL_KEYWORDS:
            continue
        yield elem


def _match(candidate: Dataset, identifier: Dataset) -> Dataset | None:
    """The requested attributes of `candidate` if it matches every key, else ``None``."""
    response = Dataset()
    for key in _keys(identifier):
        found = candidate[key.tag] if key.tag in candidate else None
        if key.VR == "SQ":
            items = _match_sequence(key, found)
            if items is None:
                return None
            response.add(DataElement(key.tag, "SQ", items))
        elif not element_matches(key, found):
            return None
        elif found is not None:
            response.add(copy.deepcopy(found))
        else:
            response.add(DataElement(key.tag, key.VR, None))
    return response


def _match_sequence(key: DataElement, found: DataElement | None) -> Sequence | None:
    """Sequence Matching (PS3.4 C.2.2.2.6): the items to return, or ``None`` if the entity does not match."""
    have = list(found.value) if found is not None and found.VR == "SQ" and found.value else []
    if not key.value:
        # Zero-length sequence key: universal matching, the whole sequence is returned.
        return Sequence([copy.deepcopy(item) for item in have])
    template = key.value[0]  # the key carries a single item (C.2.2.2.6)
    matched = [response for item in have if (response := _match(item, template)) is not None]
    if matched:
        return Sequence(matched)
    if not have and _all_universal(template):
        return Sequence()  # nothing to return, but nothing asked to match either
    return None


def _all_universal(template: Dataset) -> bool:
    """Whether every key of a sequence item is a return key (empty, or ``*``)."""
    for key in _keys(template):
        if key.VR == "SQ":
            if key.value and not _all_universal(key.value[0]):
                return False
        elif not element_matches(key, None):
            return False
    return True
