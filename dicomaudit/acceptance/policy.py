"""Device acceptance policies: what a node of one role must (and must not) do, as data.

A policy is a TOML file (``policies/<role>.toml`` ships one per role) that
names, per catalogue check, the outcome the role requires, the service
families an unregistered AE must not be able to negotiate (or that must be
offered), and transport settings (TLS for DICOM, HTTPS for web APIs).  A
site writes its own by extending a shipped one::

    extends = "archive"              # a shipped role, or a path relative to this file
    name = "site-archive"

    [settings]
    tls_required = false             # compensated by the imaging VLAN (risk R-12)

    [checks]
    "echo.unauthenticated" = { require = "fail allowed", why = "service engineers' C-ECHO" }

Everything is validated when the file is loaded: an unknown check id,
outcome, service family or setting is refused with the file, the key (and
its line) and the nearest valid name, never ignored.  The judge
(:mod:`dicomaudit.acceptance.judge`) reads only the resolved
:class:`Policy`; it never sees the files.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from dicomaudit.models import freeze, thaw

#: Format of the policy files this version reads.
FORMAT = 1


class PolicyError(ValueError):
    """A policy that cannot be used; the message names the file, the key (and line) and a suggestion."""


class Requirement(enum.StrEnum):
    """What a policy asks of one check."""

    PASS = "pass"  # the check must pass: the node refused (a failure makes the node non-compliant)
    FAIL_ALLOWED = "fail allowed"  # judged and shown, but a failure is tolerated for this role
    NOT_APPLICABLE = "not applicable"  # the question does not concern this role; listed, not judged
    RECORDED = "recorded"  # an observation (status info): carried into the record as evidence


#: Checks that only observe (their status is ``info`` whatever the node does): requiring ``pass`` of them would
#: make every node non-compliant, so a policy may only ask for them to be ``recorded`` (or not applicable).
OBSERVATIONS = frozenset(
    {"dicom.service", "services.offered", "web.service", "tls.client_auth", "software.identified", "inventory.missing"}
)

#: Checks whose requirement follows from a transport setting, never from ``[checks]``: two places to say one thing
#: would let an ``extends`` chain contradict itself (``tls_required = false`` over an inherited ``"pass"``).
GOVERNED = {"transport.plaintext": "tls_required", "web.plaintext": "https_required"}


@dataclass(frozen=True)
class Setting:
    """One transport setting: its value and why the policy chose it."""

    value: bool
    why: str = ""


SETTINGS = {
    "tls_required": "every DICOM endpoint of the node speaks TLS only (transport.plaintext passes)",
    "https_required": "every web endpoint of the node is served over HTTPS only (web.plaintext passes)",
}


@dataclass(frozen=True)
class CheckRequirement:
    """The outcome one check must have, and the policy's reason."""

    check_id: str
    require: Requirement
    why: str = ""


@dataclass(frozen=True)
class Services:
    """Service families (``services.offered``) an unregistered AE must not, or must, be able to negotiate."""

    forbidden: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class PolicySource:
    """One file of a policy's ``extends`` chain: where it came from and its SHA-256."""

    name: str
    origin: str  # "shipped" or the path as given
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "origin": self.origin, "sha256": self.sha256}


@dataclass(frozen=True)
class Policy:
    """A resolved policy: its own keys over everything it extends.

    ``sha256`` is the hash of the canonical JSON of the resolved policy
    (:meth:`to_dict` without it): two policies with the same hash require
    exactly the same things, whatever their files look like; ``sources`` pins
    every file of the chain by its own SHA-256.
    """

    name: str
    description: str
    checks: Mapping[str, CheckRequirement]
    settings: Mapping[str, Setting]
    services: Services
    sources: tuple[PolicySource, ...]
    sha256: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "checks", freeze(dict(self.checks)))
        object.__setattr__(self, "settings", freeze(dict(self.settings)))
        if not self.sha256:
            object.__setattr__(self, "sha256", _digest(self._content()))

    def requires(self, setting: str) -> bool:
        s = self.settings.get(setting)
        return bool(s.value) if s is not None else False

    def _content(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "description": self.description,
            "settings": {k: {"value": s.value, "why": s.why} for k, s in sorted(self.settings.items())},
            "services": {
                "forbidden": list(self.services.forbidden),
                "required": list(self.services.required),
                "why": self.services.why,
            },
            "checks": {cid: {"require": r.require.value, "why": r.why} for cid, r in sorted(self.checks.items())},
        }

    def to_dict(self) -> dict[str, Any]:
        """The resolved policy as JSON-ready data, with its hash and the files it came from."""
        d = self._content()
        d["sha256"] = self.sha256
        d["sources"] = [s.to_dict() for s in self.sources]
        return thaw(d)


def _digest(content: Mapping[str, Any]) -> str:
    text = json.dumps(thaw(content), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- loading --------------------------------------------------------------------------------------------------------
_TOP_KEYS = ("format", "name", "description", "extends", "settings", "services", "checks")


def shipped_roles() -> tuple[str, ...]:
    """The roles dicomaudit ships a policy for (``policies/*.toml``; ``base`` is what they share)."""
    files = resources.files(__package__).joinpath("policies")
    return tuple(sorted(p.name.removesuffix(".toml") for p in files.iterdir() if p.name.endswith(".toml")))


@cache
def load_role(role: str) -> Policy:
    """The shipped policy of ``role`` (raises :class:`PolicyError` for an unknown role, with the known ones)."""
    if role not in shipped_roles():
        raise PolicyError(
            f"unknown role {role!r}{_suggest(role, shipped_roles())} (known: {', '.join(shipped_roles())})"
        )
    return _resolve(_Source.shipped(role), ())


def load_policy(path: str | Path) -> Policy:
    """A policy file (TOML); its ``extends`` chain is resolved and every key validated."""
    return _resolve(_Source.file(Path(path)), ())


@dataclass(frozen=True)
class _Source:
    name: str
    origin: str
    text: str
    folder: Path | None  # where a relative ``extends`` path is looked up (None: shipped)

    @classmethod
    def shipped(cls, role: str) -> _Source:
        text = resources.files(__package__).joinpath("policies", f"{role}.toml").read_text(encoding="utf-8")
        return cls(role, "shipped", text, None)

    @classmethod
    def file(cls, path: Path) -> _Source:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PolicyError(f"{path}: no such policy file") from None
        except IsADirectoryError:
            raise PolicyError(f"{path}: is a folder, not a policy file") from None
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise PolicyError(f"{path}: not a policy file (not UTF-8 text)") from None
        return cls(path.stem, str(path), text, path.parent)

    @property
    def label(self) -> str:
        return f"policy {self.name!r} (shipped)" if self.folder is None else self.origin


def _resolve(source: _Source, chain: tuple[str, ...]) -> Policy:
    key = source.origin if source.folder is not None else f"shipped:{source.name}"
    if key in chain:
        raise PolicyError(f"{source.label}: 'extends' loops back to itself ({' -> '.join((*chain, key))})")
    try:
        data = tomllib.loads(source.text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source.label}: not valid TOML ({exc})") from None
    where = _Where(source)
    for k in data:
        if k not in _TOP_KEYS:
            raise where.error(k, f"unknown key{_suggest(k, _TOP_KEYS)} (a policy has: {', '.join(_TOP_KEYS)})")
    fmt = data.get("format", FORMAT)
    if fmt != FORMAT:
        raise where.error("format", f"format {fmt!r} is not one this dicomaudit reads ({FORMAT})")
    parent: Policy | None = None
    extends = data.get("extends")
    if extends is not None:
        if not isinstance(extends, str) or not extends:
            raise where.error("extends", "must be a role name or a path to a policy file")
        parent = _resolve(_parent_source(source, extends, where), (*chain, key))
    name = _text(data, "name", where) or source.name
    description = _text(data, "description", where) or (parent.description if parent else "")
    settings = dict(parent.settings) if parent else {}
    settings.update(_settings(data.get("settings"), where))
    services = _services(data.get("services"), where, parent.services if parent else Services())
    checks = dict(parent.checks) if parent else {}
    checks.update(_checks(data.get("checks"), where))
    for cid in GOVERNED:  # kept out of [checks] by _checks; the setting decides
        checks.pop(cid, None)
    own = PolicySource(name, source.origin, hashlib.sha256(source.text.encode("utf-8")).hexdigest())
    return Policy(
        name=name,
        description=description,
        checks=checks,
        settings=settings,
        services=services,
        sources=(*(parent.sources if parent else ()), own),
    )


def _parent_source(source: _Source, extends: str, where: _Where) -> _Source:
    looks_like_path = extends.endswith(".toml") or "/" in extends or "\\" in extends
    if not looks_like_path:
        if extends not in shipped_roles():
            raise where.error(
                "extends",
                f"unknown role {extends!r}{_suggest(extends, shipped_roles())} "
                f"(shipped: {', '.join(shipped_roles())}; or give a path ending in .toml)",
            )
        return _Source.shipped(extends)
    if source.folder is None:
        raise where.error("extends", "a shipped policy extends shipped roles only")
    path = Path(extends)
    path = path if path.is_absolute() else source.folder / path
    try:
        return _Source.file(path)
    except PolicyError as exc:
        raise where.error("extends", str(exc)) from None


class _Where:
    """Names a key of one source in an error, with its line when the text shows it."""

    def __init__(self, source: _Source) -> None:
        self.source = source

    def line(self, key: str) -> int | None:
        pattern = re.compile(rf'^\s*(?:"{re.escape(key)}"|\'{re.escape(key)}\'|{re.escape(key)})\s*=', re.MULTILINE)
        table = re.compile(rf"^\s*\[\s*{re.escape(key)}\s*\]", re.MULTILINE)
        match = pattern.search(self.source.text) or table.search(self.source.text)
        return self.source.text.count("\n", 0, match.start()) + 1 if match else None

    def error(self, key: str, message: str, table: str | None = None) -> PolicyError:
        line = self.line(key)
        at = f" line {line}" if line else ""
        shown = f"[{table}] {key!r}" if table else repr(key)
        return PolicyError(f"{self.source.label}{at}: {shown}: {message}")


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _text(data: Mapping[str, Any], key: str, where: _Where) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise where.error(key, "must be a string")
    return " ".join(value.split())


def _settings(raw: Any, where: _Where) -> dict[str, Setting]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise where.error("settings", "must be a table: [settings]")
    out: dict[str, Setting] = {}
    for key, value in raw.items():
        if key not in SETTINGS:
            raise where.error(
                key, f"unknown setting{_suggest(key, SETTINGS)} (known: {', '.join(SETTINGS)})", "settings"
            )
        why = ""
        if isinstance(value, Mapping):
            extra = set(value) - {"value", "why"}
            if extra or "value" not in value:
                raise where.error(key, "a table here needs 'value' (true/false) and may have 'why'", "settings")
            why = str(value.get("why", ""))
            value = value["value"]
        if not isinstance(value, bool):
            raise where.error(key, f"must be true or false, not {value!r}", "settings")
        out[key] = Setting(value, " ".join(why.split()))
    return out


def family_names() -> tuple[str, ...]:
    """The service families ``services.offered`` reports, in its order (Storage last)."""
    from dicomaudit.checks.services import FAMILIES, STORAGE

    return (*(name for name, _ in FAMILIES), STORAGE)


def _services(raw: Any, where: _Where, inherited: Services) -> Services:
    if raw is None:
        return inherited
    if not isinstance(raw, Mapping):
        raise where.error("services", "must be a table: [services]")
    known = family_names()
    lists: dict[str, tuple[str, ...]] = {"forbidden": inherited.forbidden, "required": inherited.required}
    for key, value in raw.items():
        if key == "why":
            continue
        if key not in lists:
            raise where.error(key, f"unknown key{_suggest(key, lists)} (known: forbidden, required, why)", "services")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise where.error(key, "must be a list of service family names", "services")
        for family in value:
            if family not in known:
                raise where.error(
                    key,
                    f"unknown service family {family!r}{_suggest(family, known)} (known: {', '.join(known)})",
                    "services",
                )
        lists[key] = tuple(dict.fromkeys(value))
    both = set(lists["forbidden"]) & set(lists["required"])
    if both:
        raise where.error("forbidden", f"{', '.join(sorted(both))} both forbidden and required", "services")
    why = raw.get("why", inherited.why)
    if not isinstance(why, str):
        raise where.error("why", "must be a string", "services")
    return Services(forbidden=lists["forbidden"], required=lists["required"], why=" ".join(why.split()))


def _checks(raw: Any, where: _Where) -> dict[str, CheckRequirement]:
    from dicomaudit.checks.catalogue import load_catalogue

    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise where.error("checks", "must be a table: [checks]")
    catalogue = load_catalogue()
    outcomes = [r.value for r in Requirement]
    out: dict[str, CheckRequirement] = {}
    for cid, value in raw.items():
        if cid not in catalogue:
            raise where.error(cid, f"unknown check id{_suggest(cid, catalogue)}", "checks")
        if cid in GOVERNED:
            raise where.error(
                cid,
                f"decided by the setting {GOVERNED[cid]!r}: set [settings] {GOVERNED[cid]} = true or false",
                "checks",
            )
        why = ""
        if isinstance(value, Mapping):
            extra = set(value) - {"require", "why"}
            if extra or "require" not in value:
                raise where.error(cid, "a table here needs 'require' and may have 'why'", "checks")
            why = value.get("why", "")
            if not isinstance(why, str):
                raise where.error(cid, "'why' must be a string", "checks")
            value = value["require"]
        if not isinstance(value, str) or value not in outcomes:
            raise where.error(
                cid,
                f"unknown outcome {value!r}{_suggest(str(value), outcomes)} (known: {', '.join(outcomes)})",
                "checks",
            )
        requirement = Requirement(value)
        if cid in OBSERVATIONS and requirement in (Requirement.PASS, Requirement.FAIL_ALLOWED):
            raise where.error(
                cid, f"{cid} only observes (its status is info): use 'recorded' or 'not applicable'", "checks"
            )
        out[cid] = CheckRequirement(cid, requirement, " ".join(why.split()))
    return out


def policy_from_dict(d: Mapping[str, Any]) -> Policy:
    """Rebuild a resolved policy from :meth:`Policy.to_dict` (as written into a result or record)."""
    return Policy(
        name=str(d["name"]),
        description=str(d.get("description", "")),
        checks={
            cid: CheckRequirement(cid, Requirement(v["require"]), v.get("why", ""))
            for cid, v in (d.get("checks") or {}).items()
        },
        settings={k: Setting(bool(v["value"]), v.get("why", "")) for k, v in (d.get("settings") or {}).items()},
        services=Services(
            forbidden=tuple((d.get("services") or {}).get("forbidden", ())),
            required=tuple((d.get("services") or {}).get("required", ())),
            why=(d.get("services") or {}).get("why", ""),
        ),
        sources=tuple(PolicySource(s["name"], s["origin"], s["sha256"]) for s in d.get("sources") or ()),
        sha256=str(d.get("sha256", "")),
    )


__all__ = [
    "FORMAT",
    "GOVERNED",
    "OBSERVATIONS",
    "SETTINGS",
    "CheckRequirement",
    "Policy",
    "PolicyError",
    "PolicySource",
    "Requirement",
    "Services",
    "Setting",
    "family_names",
    "load_policy",
    "load_role",
    "policy_from_dict",
    "shipped_roles",
]
