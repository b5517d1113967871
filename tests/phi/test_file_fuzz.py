"""A file fuzzer with a fixed seed: broken and hostile files never crash, hang or mislead the analysis.

The synthetic files of ``sample_data/`` (from ``scripts/make_sample_data.py``)
are mutated deterministically: bit flips, truncation, element lengths
overwritten with huge or odd values, deeply nested sequences,
undefined-length sequences without delimiters, garbage after the preamble,
spliced chunks, a 20 MB value; some files get hostile names (bytes that are
not UTF-8, escape sequences, a newline, Rich markup).  Then the library and
the command line analyse the folder, and:

* nothing raises; the command exits 0 or 1 without a traceback;
* every file is either analysed, listed in ``errors`` with a reason, or
  (random noise, plainly not DICOM) counted as skipped, and no reason comes
  from an unexpected exception (``cannot analyse``);
* no reason and no console line carries a header value unmasked;
* JSON, CSV and HTML are valid and hold the names escaped; no raw ESC byte
  reaches stdout, stderr or any report;
* the run stays within tens of seconds and the command within 300 MB (peak RSS).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from dicomaudit.phi import AnalysisResult, analyze_paths
from dicomaudit.structure import MAX_DEPTH
from dicomaudit.textsafe import safe_text
from tests.output.helpers import parse_html
from tests.phi.dicombytes import ITEM_END, SEQUENCE_END, UNDEFINED, element, item

ROOT = Path(__file__).resolve().parents[2]
SEED = 20240611
MUTANTS = 320
INTACT = 24  # unmutated copies, so that the run has files to analyse (exit status 0, not 2)
BIG_VALUE = 20 * 2**20
HOSTILE_NAMES = (
    b"%04d_bad\xff\xfe.dcm",
    b"%04d_esc\x1b[31mred.dcm",
    b"%04d_new\nline.dcm",
    b"[bold]%04d[red].dcm",
    b"%04d_osc\x1b]0;pwned\x07.dcm",
    "%04d_bidi\u202e.dcm".encode(),
    b"%04d back\\slash.dcm",
)
REASON_PREFIXES = (
    "truncated DICOM file",
    "malformed DICOM file",
    "not a DICOM file",
    "not a usable DICOM file",
    "empty file",
    "cannot read",
)
MAX_RSS_KIB = 300 * 1024

Mutation = Callable[[random.Random, bytes], bytes]


def _pixel_offset(data: bytes) -> int:
    """Where the top-level pixel data element starts (the synthetic files end with it), else the end."""
    found = data.rfind(b"\xe0\x7f\x10\x00")
    return found if found > 132 else len(data)


def _insert_before_pixels(data: bytes, extra: bytes) -> bytes:
    at = _pixel_offset(data)
    return data[:at] + extra + data[at:]


def _length_fields(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of every length field of an explicit VR element header, nested ones included."""
    fields = []
    for pos in range(132, len(data) - 12, 2):
        vr = data[pos + 4 : pos + 6]
        if vr in (b"SQ", b"OB", b"OW", b"UN", b"UT", b"UC") and data[pos + 6 : pos + 8] == b"\x00\x00":
            fields.append((pos + 8, 4))
        elif vr in (b"PN", b"LO", b"SH", b"DA", b"TM", b"UI", b"CS", b"LT", b"ST", b"DS", b"IS", b"US", b"UL"):
            fields.append((pos + 6, 2))
        elif data[pos : pos + 4] == b"\xfe\xff\x00\xe0":
            fields.append((pos + 4, 4))
    return fields


def flip_bits(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        pos = rng.randrange(128, len(out))
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(0, len(data))]


def bad_length(rng: random.Random, data: bytes) -> bytes:
    fields = _length_fields(data)
    if not fields:
        return flip_bits(rng, data)
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        pos, size = rng.choice(fields)
        if size == 2:
            value = rng.choice([0xFFFF, 0xFFFE, 0x8001, 1, 3, 0])
            struct.pack_into("<H", out, pos, value)
        else:
            value = rng.choice([UNDEFINED, 0xFFFFFFFE, 0x7FFFFFFF, 0x10000001, 3, 1, len(data), 0])
            struct.pack_into("<I", out, pos, value)
    return bytes(out)


def _nested(depth: int, undefined: bool) -> bytes:
    body = element(0x00081155, b"UI", b"1.2.3\x00")
    for _ in range(depth):
        if undefined:
            body = element(0x00081110, b"SQ", item(body + ITEM_END, length=UNDEFINED) + SEQUENCE_END, length=UNDEFINED)
        else:
            body = element(0x00081110, b"SQ", item(body))
    return body


def deep_nesting(rng: random.Random, data: bytes) -> bytes:
    depth = rng.choice([MAX_DEPTH - 1, MAX_DEPTH + 1, 200, 2000])
    return _insert_before_pixels(data, _nested(depth, undefined=rng.random() < 0.5))


def no_delimiters(rng: random.Random, data: bytes) -> bytes:
    items = b"".join(item(element(0x00321032, b"PN", b"Roe^Richard "), length=UNDEFINED) for _ in range(3))
    sequence = element(0x00400275, b"SQ", items, length=UNDEFINED)
    return _insert_before_pixels(data, sequence) if rng.random() < 0.5 else data + sequence


def garbage(rng: random.Random, data: bytes) -> bytes:
    noise = rng.randbytes(rng.randrange(0, 4096))
    return rng.choice([data[:132] + noise, data[:128] + noise, noise, data[: rng.randrange(132, 400)] + noise])


def splice(rng: random.Random, data: bytes) -> bytes:
    start = rng.randrange(132, len(data))
    chunk = data[start : start + rng.randrange(1, 200)]
    at = rng.randrange(132, len(data))
    return data[:at] + chunk + data[at:]


MUTATIONS: tuple[Mutation, ...] = (flip_bits, truncate, bad_length, deep_nesting, no_delimiters, garbage, splice)


def big_value(rng: random.Random, data: bytes) -> bytes:
    """One UT value of 20 MB of words, digits and dates (every detector has work to do)."""
    words = [b"lorem", b"ipsum", b"1985", b"03/12", b"Dr", b"Whitfield", b"street", b"42", b"tel", b"555-0199"]
    block = b" ".join(rng.choice(words) for _ in range(10_000)) + b" "
    text = (block * (BIG_VALUE // len(block) + 1))[:BIG_VALUE]
    return _insert_before_pixels(data, element(0x00091010, b"LO", b"ACME 1.0") + element(0x00091011, b"UT", text))


@dataclass(frozen=True)
class Corpus:
    folder: Path
    sources: frozenset[str]  # every file, as the analyzer must name it
    hostile: frozenset[str]  # the sources with a hostile name
    values: frozenset[str]  # identifying values of the originals, unmasked (must never show)
    result: AnalysisResult
    seconds: float


def _identifying_values() -> frozenset[str]:
    found = analyze_paths([ROOT / "sample_data"], show_values=True)
    return frozenset(f.value for f in found.findings if f.category == "direct_identifier" and len(f.value) >= 5)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    rng = random.Random(SEED)
    originals = [p.read_bytes() for p in sorted((ROOT / "sample_data").rglob("*.dcm"))]
    assert originals, "sample_data/ is missing: run scripts/make_sample_data.py"
    folder = tmp_path_factory.mktemp("fuzz") / "in"
    os.mkdir(folder)
    raw_folder = os.fsencode(folder)
    sources, hostile = set(), set()

    def write(i: int, data: bytes) -> None:
        bad_name = rng.random() < 0.3
        name = (rng.choice(HOSTILE_NAMES) if bad_name else b"%04d.dcm") % i
        path = os.path.join(raw_folder, name)
        with open(path, "wb") as fh:
            fh.write(data)
        sources.add(safe_text(path))
        if bad_name:
            hostile.add(safe_text(path))

    for i in range(INTACT):
        write(i, originals[i % len(originals)])
    for i in range(INTACT, INTACT + MUTANTS):
        write(i, rng.choice(MUTATIONS)(rng, rng.choice(originals)))
    write(INTACT + MUTANTS, big_value(rng, originals[0]))
    started = time.perf_counter()
    result = analyze_paths([str(folder)])
    seconds = time.perf_counter() - started
    return Corpus(folder, frozenset(sources), frozenset(hostile), _identifying_values(), result, seconds)


def test_every_file_is_analysed_or_an_error_with_a_reason(corpus: Corpus) -> None:
    result = corpus.result
    errors = {e.source: e.error for e in result.errors}
    assert len(errors) == len(result.errors), "a file listed twice"
    # Random noise (no DICM prefix, not starting like a data set) in a folder is skipped as not DICOM.
    assert not set(errors) & set(result.skipped)
    assert result.files_scanned + len(errors) + len(result.skipped) == len(corpus.sources)
    assert set(errors) | set(result.skipped) <= corpus.sources
    assert {f.source for f in result.findings} <= corpus.sources - set(errors)
    assert result.files_scanned >= INTACT and len(errors) >= MUTANTS // 4  # the fuzzer did break files
    for source, reason in errors.items():
        assert reason.startswith(REASON_PREFIXES), (source, reason)  # never "cannot analyse": an escaped exception
        assert reason.isprintable(), (source, reason)
    assert corpus.seconds < 40, f"analysis took {corpus.seconds:.1f} s"


def test_no_reason_carries_an_identifying_value(corpus: Corpus) -> None:
    reasons = " ".join(e.error for e in corpus.result.errors).upper()
    assert corpus.values
    assert not [v for v in corpus.values if v.upper() in reasons]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("dicomaudit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dicomaudit"]


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float
    peak_kib: int


# Runs the command as its own child and reports that child's peak RSS.  Measured
# from here, RUSAGE_CHILDREN (or wait4) would include this test process's own
# peak: a child starts as a copy of its parent, and Linux keeps the high-water
# mark across exec.  The launcher is a bare interpreter, a few MB.
_LAUNCHER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as fh:
    fh.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def _run(args: list[str], folder: Path, timeout: float) -> Run:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    rss_file = folder / "peak_rss_kib"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, str(rss_file), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the command
        proc.communicate()
        raise
    return Run(proc.returncode, stdout, stderr, time.perf_counter() - started, int(rss_file.read_text()))


def test_command_line_survives_the_fuzzed_folder(corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "out"
    json_path, csv_path = tmp_path / "phi.json", tmp_path / "phi.csv"
    proc = _run(
        [
            *_command(),
            "analyze",
            str(corpus.folder),
            "--json",
            str(json_path),
            "--csv",
            str(csv_path),
            "--out",
            str(out),
        ],
        tmp_path,
        timeout=180,
    )
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode in (0, 1), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert proc.seconds < 60, f"the command took {proc.seconds:.1f} s"
    assert proc.peak_kib < MAX_RSS_KIB, f"peak RSS {proc.peak_kib // 1024} MB"

    reports = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in [json_path, csv_path, *out.iterdir()]}
    for name, data in {"stdout": proc.stdout, "stderr": proc.stderr, **reports}.items():
        assert b"\x1b" not in data, f"raw ESC in {name}"
        data.decode("utf-8")  # strict: every output is valid UTF-8

    # The same files give the same verdicts in-process and through the command.
    for name in ("phi.json", "out/result.json"):
        data = json.loads(reports[name])
        assert {(e["source"], e["error"]) for e in data["errors"]} == {
            (e.source, e.error) for e in corpus.result.errors
        }
        assert {p["source"] for p in data["phi"]} == {f.source for f in corpus.result.findings}
    for name in ("phi.csv", "out/phi.csv"):
        rows = list(csv.DictReader(io.StringIO(reports[name].decode("utf-8"))))
        assert {r["source"] for r in rows} == {f.source for f in corpus.result.findings}

    html_text = " ".join(parse_html(reports["out/report.html"].decode("utf-8")).text)
    error_sources = {e.source for e in corpus.result.errors}
    shown = [s for s in corpus.hostile if s in error_sources]
    assert shown and all(s in html_text for s in shown)
    console = proc.stdout.decode("utf-8")
    assert not [v for v in corpus.values if v in console]
