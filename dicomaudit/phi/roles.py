"""Person-name vocabulary: role placeholders, and caret-form names outside PN elements.

Role placeholders
-----------------
Departments type a role where a person's name belongs: ReferringPhysicianName
``SELF^REFERRED``, OperatorsName ``TECH``, PerformingPhysicianName
``ON^CALL``.  A person-name value that is only a role names nobody: the
analyzer does not report it (whatever the element: PN, a private element
named as a person, the Code Meaning of a person code) and does not propagate
its words.  :meth:`RoleSet.is_role` decides:

* the value is upper-cased, stripped of accents (``MÉDECIN`` is
  ``MEDECIN``) and cut into *words* at ``^ = \\``, white space, commas,
  periods, semicolons, slashes and brackets (empty components vanish:
  ``SELF^REFERRED^^^`` is ``SELF REFERRED``);
* it is a role when its words are, in order, those of a ``values`` entry
  (``SELF^REFERRED`` matches ``Self^Referred`` and ``SELF, REFERRED``), or
  when *every* word matches a ``components`` entry, words of digits only
  aside (``RESIDENT``, ``ER^PHYSICIAN``, ``TECH 2``);
* entries are upper-case words in which ``*`` and ``?`` are wildcards
  (:func:`fnmatch.fnmatchcase`): ``TECH*``.

A value holding any other word (``RESIDENT^Okafor``) is a name.

Caret-form names in text
------------------------
A person name copied from a PN element keeps its carets (``Whitfield^Grace``)
wherever it lands: a private LO, an OB or UN value, a comment.
:meth:`RoleSet.caret_name` finds them: some ``^`` in the text joins a *left
word* and a *right word* (the letters, with inner ``'`` ``’`` ``.`` ``-``,
right before and right after it), each of which

* stands alone: no letter, digit or underscore touches it (``Thorax^01_Std``
  and ``T2^FLAIR`` are codes);
* has two letters or more and does not start with a lower-case letter;
* is, in capitals and without accents, neither a ``not_names`` word
  (clinical and DICOM vocabulary: ``CT``, ``CHEST``, ``ROUTINE``,
  ``AXIAL``, ``ΘΩΡΑΚΑΣ``, ``ГОЛОВА``...; for a hyphenated word, neither is
  any of its parts), nor a placeholder word (``ANONYMOUS``, ``NAME``...),
  nor a role component;
* if ASCII and three letters or longer, holds a vowel (A E I O U Y): ``BRN``,
  ``STD`` are abbreviations;

and the two words together are not a role (``ON^CALL``).  So ``CT^CHEST``,
``ABDOMEN^ROUTINE``, ``Thorax^01_Standard``, ``REFERRING^PHYSICIAN`` and
``MR^KNEE^LEFT`` are not names; ``Whitfield^Grace``, ``Dubois-Lefèvre^Éloïse``,
``Οικονόμου^Δημήτρης`` and ``CT^Okafor^Priya`` (through ``Okafor^Priya``) are.
Known misses: a given name written as an initial (``Smith^J``), names
written in lower case, names that are also clinical words (a patient called
``Head``) and vowel-less surnames of three letters or more.

The vocabulary
--------------
All three lists (``values``, ``components``, ``not_names``) live in
``roles.toml`` beside this module, documented there.  To extend them
without editing the package:

* the environment variable ``DICOMAUDIT_PHI_ROLES`` names one or more TOML
  files in the same format (separated by :data:`os.pathsep`); they are read
  when the analysis starts and their entries added to the packaged ones;
* from Python, ``analyze_paths(paths, extra_roles=...)`` and
  ``analyze_dataset(ds, source, roles=...)`` take a :class:`RoleSet`
  (:func:`load_roles` reads one from a file, :meth:`RoleSet.from_entries`
  builds one from lists) or the path of a TOML file (or several); the
  result is merged with :func:`default_roles` by :func:`resolve_roles`.

A file that cannot be read or does not have this format raises
:class:`RolesFileError` before any file is analysed.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from dicomaudit.phi.detectors import PLACEHOLDER_WORDS

#: Environment variable naming extra role files (``os.pathsep``-separated).
ENV_VAR = "DICOMAUDIT_PHI_ROLES"
PACKAGED = Path(__file__).with_name("roles.toml")
_KEYS = ("values", "components", "not_names")

_SPLIT = re.compile(r"[\^=\\\s,.;/()\[\]]+")
# A word left of a caret and the word right of it (looked ahead, so "A^B^C"
# yields both pairs); letters with inner apostrophes, periods and hyphens.
_WORD = r"[^\W\d_]+(?:['’.\-][^\W\d_]+)*"
_CARET_PAIR = re.compile(rf"(?<![\w'’.\-])({_WORD})\^(?=({_WORD})(?![\w'’\-]))")
_INNER = re.compile(r"['’.\-]")
_VOWELS = frozenset("AEIOUY")


class RolesFileError(ValueError):
    """A role file that cannot be read or is not in the format of ``roles.toml``."""


def _plain(text: str) -> str:
    """Upper case without accents (combining marks dropped after NFD)."""
    upper = text.upper()
    if upper.isascii():
        return upper
    return "".join(c for c in unicodedata.normalize("NFD", upper) if not unicodedata.combining(c))


def words(value: str) -> list[str]:
    """The upper-case, accent-free words of a value, as role matching sees them."""
    return [w for w in _SPLIT.split(_plain(value)) if w]


def _wild(entry: str) -> bool:
    return "*" in entry or "?" in entry


@dataclass(frozen=True)
class RoleSet:
    """Role values, role components and not-name words (see the module docstring).

    Build one with :meth:`from_entries` or :func:`load_roles`; combine two
    with :meth:`merged`.  Instances pickle (they travel to worker processes).
    """

    values: frozenset[tuple[str, ...]] = frozenset()
    value_patterns: tuple[tuple[str, ...], ...] = ()
    components: frozenset[str] = frozenset()
    component_patterns: tuple[str, ...] = ()
    not_names: frozenset[str] = frozenset()
    _component_rx: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.component_patterns and self._component_rx is None:
            rx = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in self.component_patterns))
            object.__setattr__(self, "_component_rx", rx)

    @classmethod
    def from_entries(
        cls, values: Iterable[str] = (), components: Iterable[str] = (), not_names: Iterable[str] = ()
    ) -> RoleSet:
        """A role set from entries as written in ``roles.toml`` (any case)."""
        exact_values: set[tuple[str, ...]] = set()
        value_patterns: list[tuple[str, ...]] = []
        for entry in values:
            parts = tuple(words(entry))
            if parts:
                (value_patterns.append(parts) if any(_wild(p) for p in parts) else exact_values.add(parts))
        exact_components: set[str] = set()
        component_patterns: list[str] = []
        for entry in components:
            for word in words(entry):
                (component_patterns.append(word) if _wild(word) else exact_components.add(word))
        return cls(
            frozenset(exact_values),
            tuple(dict.fromkeys(value_patterns)),
            frozenset(exact_components),
            tuple(dict.fromkeys(component_patterns)),
            frozenset(w for entry in not_names for w in words(entry)),
        )

    def merged(self, other: RoleSet) -> RoleSet:
        """Both sets' entries."""
        return RoleSet(
            self.values | other.values,
            tuple(dict.fromkeys(self.value_patterns + other.value_patterns)),
            self.components | other.components,
            tuple(dict.fromkeys(self.component_patterns + other.component_patterns)),
            self.not_names | other.not_names,
        )

    # -- roles ---------------------------------------------------------------
    def is_component(self, word: str) -> bool:
        """Is an upper-case word a role component?"""
        return word in self.components or (
            self._component_rx is not None and self._component_rx.match(word) is not None
        )

    def is_role(self, value: str) -> bool:
        """Is a person-name value only a role (``SELF^REFERRED``, ``TECH``)?"""
        parts = words(value)
        if not parts:
            return False
        key = tuple(parts)
        if key in self.values:
            return True
        for pattern in self.value_patterns:
            if len(pattern) == len(key) and all(fnmatch.fnmatchcase(w, p) for w, p in zip(key, pattern, strict=True)):
                return True
        role = False
        for word in parts:
            if word.isdigit():
                continue
            if not self.is_component(word):
                return False
            role = True
        return role

    # -- caret-form names ------------------------------------------------------
    def name_word(self, word: str) -> bool:
        """Could this word, next to a caret, be part of a person's name?"""
        letters = _INNER.sub("", word)
        if len(letters) < 2 or word[0].islower():
            return False
        upper = _plain(word)
        if upper in self.not_names or upper in PLACEHOLDER_WORDS or self.is_component(upper):
            return False
        if "-" in upper and any(part in self.not_names for part in upper.split("-")):
            return False
        return not (letters.isascii() and len(letters) >= 3 and _VOWELS.isdisjoint(letters.upper()))

    def caret_name(self, text: str) -> bool:
        """Does ``text`` hold a caret-form person name (``Family^Given``)?"""
        if "^" not in text:
            return False
        for m in _CARET_PAIR.finditer(text):
            left, right = m.group(1), m.group(2)
            if self.name_word(left) and self.name_word(right) and not self.is_role(f"{left}^{right}"):
                return True
        return False


def load_roles(path: str | os.PathLike[str]) -> RoleSet:
    """Read a role file in the format of ``roles.toml``; :class:`RolesFileError` if it is not one."""
    where = os.fspath(path)
    try:
        with open(where, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise RolesFileError(f"role file {where}: cannot read: {exc.strerror or type(exc).__name__}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RolesFileError(f"role file {where}: not TOML: {exc}") from None
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise RolesFileError(f"role file {where}: unknown key(s) {', '.join(unknown)} (expected {', '.join(_KEYS)})")
    lists: dict[str, list[str]] = {}
    for key in _KEYS:
        entries = data.get(key, [])
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise RolesFileError(f"role file {where}: {key} must be a list of strings")
        lists[key] = entries
    return RoleSet.from_entries(lists["values"], lists["components"], lists["not_names"])


@lru_cache(maxsize=1)
def packaged_roles() -> RoleSet:
    """The roles shipped in ``roles.toml``."""
    return load_roles(PACKAGED)


@lru_cache(maxsize=8)
def _with_env(env: str) -> RoleSet:
    roles = packaged_roles()
    for part in env.split(os.pathsep):
        if part.strip():
            roles = roles.merged(load_roles(part.strip()))
    return roles


def default_roles() -> RoleSet:
    """The packaged roles plus those of the files named by ``DICOMAUDIT_PHI_ROLES`` (read once per value)."""
    return _with_env(os.environ.get(ENV_VAR, ""))


ExtraRoles = RoleSet | str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


def resolve_roles(extra: ExtraRoles = None) -> RoleSet:
    """:func:`default_roles` plus ``extra``: a :class:`RoleSet`, a role file's path, or several paths."""
    roles = default_roles()
    if extra is None:
        return roles
    if isinstance(extra, RoleSet):
        return roles.merged(extra)
    paths = [extra] if isinstance(extra, (str, os.PathLike)) else list(extra)
    for path in paths:
        roles = roles.merged(load_roles(path))
    return roles
