"""C-FIND matching and C-GET/C-MOVE selection over in-memory datasets (PS3.4 C.2.2.2, C.4).

Implements the Patient Root and Study Root Query/Retrieve information models
at PATIENT, STUDY, SERIES and IMAGE level (and, for retrieval, the retired
Patient/Study Only model at PATIENT and STUDY level), with:

- universal matching: an empty key (or ``*``) matches everything (C.2.2.2.3);
- wildcard matching: ``*`` and ``?`` on AE, CS, LO, LT, PN, SH, ST, UC, UR, UT
  (C.2.2.2.4);
- single value matching: exact, PN case-insensitive (C.2.2.2.1);
- list of UID matching on UI (C.2.2.2.2);
- range matching ``A-B``, ``-B``, ``A-`` on DA, TM, DT (C.2.2.2.5).

Sequence keys are return keys only (no sequence matching, C.2.2.2.6).  Each
match returns only the requested keys plus Query/Retrieve Level and Specific
Character Set.  Counting attributes (e.g. *Number of Study Related Instances*,
*Modalities in Study*) are computed per entity (C.6.1.1 / C.6.2.1).
(The Modality Worklist's sequence matching is in :mod:`dicomaudit.lab.worklist`.)

:func:`retrieve` selects the instances a C-GET or C-MOVE identifies by its
unique keys (PS3.4 C.4.2.3.1 / C.4.3.3.1, baseline behaviour of the SCP).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator
from collections.abc import Sequence as SequenceABC
from typing import Any

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID

PATIENT_ROOT_FIND = UID("1.2.840.10008.5.1.4.1.2.1.1")
STUDY_ROOT_FIND = UID("1.2.840.10008.5.1.4.1.2.2.1")
PATIENT_ROOT_MOVE = UID("1.2.840.10008.5.1.4.1.2.1.2")
PATIENT_ROOT_GET = UID("1.2.840.10008.5.1.4.1.2.1.3")
STUDY_ROOT_MOVE = UID("1.2.840.10008.5.1.4.1.2.2.2")
STUDY_ROOT_GET = UID("1.2.840.10008.5.1.4.1.2.2.3")
PATIENT_STUDY_ONLY_MOVE = UID("1.2.840.10008.5.1.4.1.2.3.2")  # retired
PATIENT_STUDY_ONLY_GET = UID("1.2.840.10008.5.1.4.1.2.3.3")  # retired

ALL_LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")
#: Levels each information model supports (PS3.4 C.6.1, C.6.2 and the retired C.6.3).
MODEL_LEVELS: dict[str, tuple[str, ...]] = {
    PATIENT_ROOT_FIND: ALL_LEVELS,
    STUDY_ROOT_FIND: ALL_LEVELS[1:],
    PATIENT_ROOT_MOVE: ALL_LEVELS,
    PATIENT_ROOT_GET: ALL_LEVELS,
    STUDY_ROOT_MOVE: ALL_LEVELS[1:],
    STUDY_ROOT_GET: ALL_LEVELS[1:],
    PATIENT_STUDY_ONLY_MOVE: ALL_LEVELS[:2],
    PATIENT_STUDY_ONLY_GET: ALL_LEVELS[:2],
}
#: The retrieve (C-GET and C-MOVE) information models.
RETRIEVE_MODELS = frozenset(
    {
        PATIENT_ROOT_MOVE,
        PATIENT_ROOT_GET,
        STUDY_ROOT_MOVE,
        STUDY_ROOT_GET,
        PATIENT_STUDY_ONLY_MOVE,
        PATIENT_STUDY_ONLY_GET,
    }
)
#: Unique key of each level (PS3.4 C.6.1.1.x).
UNIQUE_KEY = {
    "PATIENT": "PatientID",
    "STUDY": "StudyInstanceUID",
    "SERIES": "SeriesInstanceUID",
    "IMAGE": "SOPInstanceUID",
}

#: PS3.4 C.4.1.1.4: A900 "Identifier does not match SOP Class".
STATUS_IDENTIFIER_MISMATCH = 0xA900

_WILDCARD_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
_RANGE_VRS = frozenset({"DA", "TM", "DT"})
_NUMERIC_VRS = frozenset({"IS", "DS", "FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"})
# Elements describing the query itself, never matched.
_CONTROL_KEYWORDS = frozenset({"QueryRetrieveLevel", "SpecificCharacterSet"})


class QueryError(Exception):
    """The identifier cannot be processed; `status` is the DIMSE status to return."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def query_level(identifier: Dataset, model: str) -> str:
    """Validate and return the identifier's Query/Retrieve Level for `model`.

    Raises
    ------
    QueryError
        0xA900 when the level is missing or not part of the information model.
    """
    levels = MODEL_LEVELS.get(model)
    if levels is None:
        raise QueryError(STATUS_IDENTIFIER_MISMATCH, f"unsupported information model {model}")
    level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    if level not in levels:
        raise QueryError(
            STATUS_IDENTIFIER_MISMATCH,
            f"Query/Retrieve Level {level or '(missing)'!r} not valid for this model (expected {levels})",
        )
    return level


# --------------------------------------------------------------------------
# Value matching
# --------------------------------------------------------------------------


def _strings(value: Any) -> list[str]:
    """All non-empty values of an element as strings (multi-valued -> several)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, MultiValue)):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    text = str(value).strip()
    return [text] if text else []


def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _normalise_temporal(vr: str, text: str) -> str:
    """Make DA/TM/DT values comparable as strings.

    Drops ACR-NEMA separators (``.`` in dates, ``:`` in times) and a DT
    timezone suffix, then pads to full precision so ``"12"`` compares as
    ``"120000.000000"``.
    """
    text = text.strip()
    if vr == "DT":
        text = re.split(r"[+-]", text, maxsplit=1)[0] if len(text) > 4 else text
    text = text.replace(".", "") if vr == "DA" else text.replace(":", "")
    if vr == "DA":
        return text.ljust(8, "0")
    whole, _, frac = text.partition(".")
    width = 6 if vr == "TM" else 14
    return whole.ljust(width, "0") + "." + frac.ljust(6, "0")


def _range_match(vr: str, query: str, values: list[str]) -> bool:
    low, _, high = query.partition("-")
    lo = _normalise_temporal(vr, low) if low.strip() else None
    hi = _normalise_temporal(vr, high) if high.strip() else None
    for value in values:
        v = _normalise_temporal(vr, value)
        if (lo is None or v >= lo) and (hi is None or v <= hi):
            return True
    return False


def element_matches(key: DataElement, candidate: DataElement | None) -> bool:
    """Whether the entity's `candidate` element satisfies matching key `key`.

    Parameters
    ----------
    key : DataElement
        An element of the C-FIND identifier.
    candidate : DataElement or None
        The same attribute of the entity (``None`` if the entity lacks it).
    """
    if key.VR == "SQ":
        return True  # return key only (no sequence matching)
    wanted = _strings(key.value)
    if not wanted or wanted == ["*"]:
        return True  # universal matching
    values = _strings(candidate.value) if candidate is not None else []
    if not values:
        return False  # a non-universal key never matches a missing/empty value
    vr = key.VR
    if vr == "UI":
        return any(v in wanted for v in values)  # list of UID matching
    # A multi-valued key (e.g. Modalities in Study "CT\\MR") matches if any value does.
    return any(_single_matches(vr, query, values) for query in wanted)


def _single_matches(vr: str, query: str, values: list[str]) -> bool:
    if vr in _RANGE_VRS:
        if "-" in query:
            return _range_match(vr, query, values)
        return any(_normalise_temporal(vr, v) == _normalise_temporal(vr, query) for v in values)
    ignore_case = vr == "PN"
    if vr in _WILDCARD_VRS and ("*" in query or "?" in query):
        pattern = _wildcard(query, ignore_case)
        return any(pattern.fullmatch(v) for v in values)
    if vr in _NUMERIC_VRS:
        try:
            return any(float(v) == float(query) for v in values)
        except ValueError:
            return False
    if ignore_case:
        return any(v.casefold() == query.casefold() for v in values)
    return any(v == query for v in values)


# --------------------------------------------------------------------------
# Entities and computed attributes
# --------------------------------------------------------------------------


class Entity:
    """One patient, study, series or instance: a representative dataset plus its instances."""

    def __init__(self, level: str, first: Dataset) -> None:
        self.level = level
        self.representative = first
        self.instances: list[Dataset] = [first]

    def computed(self) -> dict[BaseTag, DataElement]:
        """Counting attributes of this entity (PS3.4 C.6.1.1.x / C.6.2.1.x)."""
        out: dict[BaseTag, DataElement] = {}

        def put(keyword: str, value: Any) -> None:
            tag = Tag(keyword)
            out[tag] = DataElement(tag, dictionary_VR(tag), value)

        studies = {str(ds.get("StudyInstanceUID", "")) for ds in self.instances}
        series = {str(ds.get("SeriesInstanceUID", "")) for ds in self.instances}
        n = len(self.instances)
        if self.level == "PATIENT":
            put("NumberOfPatientRelatedStudies", len(studies))
            put("NumberOfPatientRelatedSeries", len(series))
            put("NumberOfPatientRelatedInstances", n)
        elif self.level == "STUDY":
            put("NumberOfStudyRelatedSeries", len(series))
            put("NumberOfStudyRelatedInstances", n)
            put("ModalitiesInStudy", sorted({str(ds.get("Modality", "")) for ds in self.instances} - {""}))
            put("SOPClassesInStudy", sorted({str(ds.get("SOPClassUID", "")) for ds in self.instances} - {""}))
        elif self.level == "SERIES":
            put("NumberOfSeriesRelatedInstances", n)
        return out


def entities(datasets: Iterable[Dataset], level: str) -> list[Entity]:
    """Group instances into entities of `level`, in first-seen order.

    The grouping key includes the unique keys of every level above, so two
    studies that (wrongly) share a UID under different patients stay apart.
    """
    depth = ALL_LEVELS.index(level) + 1
    keywords = [UNIQUE_KEY[lvl] for lvl in ALL_LEVELS[:depth]]
    grouped: dict[tuple[str, ...], Entity] = {}
    for ds in datasets:
        key = tuple(str(ds.get(k, "")) for k in keywords)
        if key in grouped:
            grouped[key].instances.append(ds)
        else:
            grouped[key] = Entity(level, ds)
    return list(grouped.values())


def _keys(identifier: Dataset) -> Iterator[DataElement]:
    for elem in identifier:
        if elem.tag.group in (0x0000, 0x0002) or elem.tag.is_private:
            continue  # command/meta groups and private keys we do not understand
        if elem.keyword in _CONTROL_KEYWORDS:
            continue
        yield elem


def response_for(
    entity: Entity, identifier: Dataset, level: str, extra: dict[BaseTag, DataElement] | None = None
) -> Dataset | None:
    """The C-FIND response identifier for `entity`, or ``None`` if it does not match.

    Parameters
    ----------
    entity : Entity
        Candidate entity.
    identifier : Dataset
        The request identifier (matching and return keys).
    level : str
        Validated Query/Retrieve Level.
    extra : dict, optional
        Further attributes the SCP itself supplies (e.g. *Retrieve AE Title*).
    """
    rep = entity.representative
    supplied = {**(extra or {}), **entity.computed()}
    response = Dataset()
    for key in _keys(identifier):
        candidate = supplied.get(key.tag)
        if candidate is None and key.tag in rep:
            candidate = rep[key.tag]
        if not element_matches(key, candidate):
            return None
        if candidate is not None:
            response.add(copy.deepcopy(candidate))
        elif key.VR == "SQ":
            response.add(DataElement(key.tag, "SQ", Sequence()))
        else:
            response.add(DataElement(key.tag, key.VR, None))
    response.QueryRetrieveLevel = level
    if "SpecificCharacterSet" in rep:
        # Needed so the receiver decodes accented values the way they were stored.
        response.SpecificCharacterSet = rep.SpecificCharacterSet
    return response


def find(
    datasets: SequenceABC[Dataset], identifier: Dataset, model: str, extra: dict[BaseTag, DataElement] | None = None
) -> Iterator[Dataset]:
    """Yield the response identifiers matching a C-FIND request, lazily.

    Raises
    ------
    QueryError
        If the identifier's level is invalid for `model` (raised on the first ``next``).
    """
    level = query_level(identifier, model)
    for entity in entities(datasets, level):
        response = response_for(entity, identifier, level, extra)
        if response is not None:
            yield response


# --------------------------------------------------------------------------
# C-GET / C-MOVE
# --------------------------------------------------------------------------


def retrieve(datasets: SequenceABC[Dataset], identifier: Dataset, model: str) -> list[Dataset]:
    """The instances a C-GET or C-MOVE identifier selects, in archive order, one per SOP Instance UID.

    Baseline SCP behaviour (PS3.4 C.4.2.3.1, C.4.3.3.1): the entities
    are those whose unique keys equal the identifier's, from the model's root
    down to the Query/Retrieve Level.  The retrieve level's unique key is
    required and may list several values (List of UID Matching for UIDs); a
    unique key above that level narrows the selection when present and is not
    required.  Other keys are ignored.  Unique keys are matched exactly: no
    wildcards, no universal matching.

    Raises
    ------
    QueryError
        0xA900 when the level is invalid for `model`, or the retrieve
        level's unique key is missing, empty or a wildcard.
    """
    level = query_level(identifier, model)
    levels = MODEL_LEVELS[model]
    constraints: list[tuple[str, frozenset[str]]] = []
    for lvl in levels[: levels.index(level) + 1]:
        keyword = UNIQUE_KEY[lvl]
        values = _strings(identifier.get(keyword))
        if any("*" in v or "?" in v for v in values):
            raise QueryError(STATUS_IDENTIFIER_MISMATCH, f"{keyword} must not contain wildcards in a retrieval")
        if not values:
            if lvl == level:
                raise QueryError(STATUS_IDENTIFIER_MISMATCH, f"{keyword} is required to retrieve at {level} level")
            continue
        constraints.append((keyword, frozenset(values)))
    selected: list[Dataset] = []
    seen: set[str] = set()
    for ds in datasets:
        if all(str(ds.get(keyword, "")).strip() in values for keyword, values in constraints):
            uid = str(ds.get("SOPInstanceUID", ""))
            if uid not in seen:
                seen.add(uid)
                selected.append(ds)
    return selected
