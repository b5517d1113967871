"""Writers: every output format is rendered from one :class:`~dicomaudit.policy.Assessment`.

No writer talks to the network; no check knows about an output format; no
writer decides whether a finding is an accepted risk (:func:`dicomaudit.policy.assess`
does, once, and every writer reads the verdict from there).

:func:`write_reports` writes a report set (``result.json``, ``report.html``,
``report.md``, ``checks.csv`` + ``phi.csv``, optionally ``junit.xml`` and
``waivers.json``) and a ``MANIFEST.sha256`` that ``sha256sum -c`` verifies.

Every writer produces UTF-8 and can always encode what it is given.  File
sources arrive escaped (:func:`dicomaudit.textsafe.safe_text`); everything
else (a command line, evidence from a hostile node) gets one last pass, so
that a lone surrogate never raises ``UnicodeEncodeError`` and a control
character never reaches a terminal that shows the file.  JSON escapes only
lone surrogates (:func:`~dicomaudit.textsafe.encodable`: it writes control
characters as its own ``\\u001b`` escapes); the text formats escape both
(:func:`~dicomaudit.textsafe.scrub`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from dicomaudit.models import RunResult
from dicomaudit.policy import WaiverResult, assess
from dicomaudit.textsafe import encodable, map_strings

# Imports of the format modules are deferred into write_reports: write_json/read_json are used by
# every command and must stay cheap (pandas and jinja2 load only when a report is written).

FORMATS = ("json", "html", "md", "csv", "junit")
DEFAULT_FORMATS = ("json", "html", "md", "csv")
FILE_NAMES = {
    "json": ("result.json",),
    "html": ("report.html",),
    "md": ("report.md",),
    "csv": ("checks.csv", "phi.csv"),
    "junit": ("junit.xml",),
}


def write_json(result: RunResult, path: str | Path) -> Path:
    """Write the result JSON (``schema: dicomaudit/1``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json_text(result.to_dict()), encoding="utf-8")
    return path


def json_text(data: object) -> str:
    """``data`` as indented JSON that can always be written as UTF-8 (lone surrogates escaped)."""
    return json.dumps(map_strings(data, encodable), indent=2, ensure_ascii=False) + "\n"


def read_json(path: str | Path) -> RunResult:
    """Read a result JSON written by :func:`write_json` (raises ``ValueError`` if it is not one)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from exc
    return RunResult.from_dict(data)


def parse_formats(spec: str | Iterable[str]) -> tuple[str, ...]:
    """Normalise ``"html,md"`` or ``["html", "md"]`` to a tuple of known formats.

    ``markdown`` is accepted for ``md``, ``xml`` for ``junit``; ``all`` means
    every format.  Raises ``ValueError`` naming the unknown format (the CLI
    turns it into exit status 2).
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    aliases = {"markdown": "md", "xml": "junit"}
    out: list[str] = []
    for item in items:
        name = aliases.get(item.strip().lower(), item.strip().lower())
        if not name:
            continue
        if name == "all":
            out.extend(FORMATS)
            continue
        if name not in FORMATS:
            raise ValueError(f"unknown report format {item.strip()!r} (expected some of: {', '.join(FORMATS)})")
        out.append(name)
    if not out:
        raise ValueError("no report format given")
    return tuple(dict.fromkeys(out))


def write_reports(
    result: RunResult,
    out_dir: str | Path,
    formats: str | Iterable[str] = DEFAULT_FORMATS,
    *,
    waivers: WaiverResult | None = None,
    generated_at: datetime | None = None,
) -> list[Path]:
    """Write every requested format into ``out_dir`` plus ``MANIFEST.sha256``.

    Parameters
    ----------
    result
        The run to report.
    out_dir
        Created if missing; files of the same name are overwritten.
    formats
        Any of :data:`FORMATS` (or a comma-separated string, see :func:`parse_formats`).
    waivers
        From :func:`dicomaudit.policy.apply_waivers`; accepted risks are shown
        as such in every format, and the waiver outcome is written to
        ``waivers.json`` so the evidence set records which decisions applied.
    generated_at
        Timestamp printed in the reports (default: now, UTC).

    Returns
    -------
    list of Path
        The files written, manifest last.
    """
    from dicomaudit.output.html import write_html
    from dicomaudit.output.junit import write_junit
    from dicomaudit.output.manifest import write_manifest
    from dicomaudit.output.markdown import write_markdown
    from dicomaudit.output.tables import write_checks_csv, write_phi_csv

    fmts = parse_formats(formats)
    assessment = assess(result, waivers)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in fmts:
        if fmt == "json":
            written.append(write_json(result, out / "result.json"))
        elif fmt == "html":
            written.append(write_html(assessment, out / "report.html", generated_at=generated_at))
        elif fmt == "md":
            written.append(write_markdown(assessment, out / "report.md", generated_at=generated_at))
        elif fmt == "csv":
            written.append(write_checks_csv(assessment, out / "checks.csv"))
            written.append(write_phi_csv(result, out / "phi.csv"))
        elif fmt == "junit":
            written.append(write_junit(assessment, out / "junit.xml"))
    if waivers is not None and waivers.waivers:
        path = out / "waivers.json"
        path.write_text(json_text(waivers.to_dict()), encoding="utf-8")
        written.append(path)
    written.append(write_manifest(out, written))
    return written
