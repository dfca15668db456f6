"""Property-based: random mutations of a real digest (bytes dropped, line breaks lost, lines
swapped, labels broken, NUL bytes, lines in another encoding) fed to the parser (issue 17).

For every mutated file:

- no exception;
- every entry the mutation did not touch (its lines and its date header) is parsed exactly
  as from the original;
- a mutation the bytes themselves betray (a NUL, a line in another encoding) is reported
  with the file and the line it is on;
- an entry that is no longer there is accounted for: some problem of the file names a line;
- every problem names the file, and a line that exists.

Deterministic for CI: ``derandomize=True`` and no example database."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.records import Entry
from pipeline.stages.parse import parse_files
from tests.paths import SEEDS

ORIGINAL = (SEEDS / "003_b7604eca8e731035.txt").read_bytes()
LINES = ORIGINAL.split(b"\n")
HEADER = re.compile(rb"^##")  # a date header or an entry heading: where a block ends


def _key(e: Entry) -> tuple:
    return (
        e.id,
        e.title,
        e.url,
        e.date,
        e.votes,
        tuple(e.authors),
        tuple((s.label, s.text) for s in e.sections),
    )


def _reference() -> tuple[list[Entry], dict[str, set[int]]]:
    """The original's entries, and the line indices (0-based) each one depends on: its date
    header, its heading and body, and the next heading (which ends it)."""
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "digest.md"
        f.write_bytes(ORIGINAL)
        entries = parse_files([f]).entries
    dates = [i for i, line in enumerate(LINES) if re.match(rb"^##(?!#)", line)]
    spans: dict[str, set[int]] = {}
    for e in entries:
        head = e.source_line - 1
        date = [i for i in dates if i < head][-1:]
        end = next((i for i in range(head + 1, len(LINES)) if HEADER.match(LINES[i])), len(LINES))
        spans[e.id] = {*date, *range(head, min(end + 1, len(LINES)))}
    return entries, spans


REFERENCE, SPANS = _reference()


@dataclass
class Mutated:
    lines: list[tuple[list[int], bytes]]  # (original line indices, bytes) per line of the new file
    touched: set[int] = field(default_factory=set)  # original line indices changed
    betrayed: list[int] = field(default_factory=list)  # positions (in lines) a reader must name
    ops: list[str] = field(default_factory=list)  # what was done, for the failure report

    def __repr__(self) -> str:
        return f"Mutated(ops={self.ops}, touched={sorted(self.touched)}, betrayed={self.betrayed})"

    def data(self) -> bytes:
        return b"\n".join(b for _, b in self.lines)

    def line_of(self, position: int) -> int:
        """1-based line of the position-th element in the mutated file."""
        return sum(b.count(b"\n") for _, b in self.lines[:position]) + position + 1


def _mutate(m: Mutated, kind: str, draw) -> None:  # noqa: ANN001
    n = len(m.lines)
    i = draw(st.integers(0, n - 1))
    origin, line = m.lines[i]
    if kind == "drop_bytes" and line:
        a = draw(st.integers(0, len(line) - 1))
        b = draw(st.integers(a + 1, min(len(line), a + 12)))
        m.lines[i] = (origin, line[:a] + line[b:])
    elif kind == "drop_newline" and i + 1 < n:
        nxt = m.lines.pop(i + 1)
        m.lines[i] = (origin + nxt[0], line + nxt[1])
        m.touched.update(nxt[0])
    elif kind == "swap":
        j = draw(st.integers(0, n - 1))
        m.lines[i], m.lines[j] = m.lines[j], m.lines[i]
        m.touched.update(m.lines[i][0])
    elif kind == "break_label" and b"***" in line:
        cut = draw(st.sampled_from([b"***", b"**", b"*", b":"]))
        m.lines[i] = (origin, line.replace(cut, b"", 1))
    elif kind == "nul":
        a = draw(st.integers(0, len(line)))
        m.lines[i] = (origin, line[:a] + b"\x00" + line[a:])
        m.betrayed.append(i)
    elif kind == "encoding":
        text = line.decode("utf-8", errors="replace")
        codec = draw(st.sampled_from(["cp949", "latin-1"]))
        encoded = text.encode(codec, errors="replace")
        if encoded != line:
            m.lines[i] = (origin, encoded)
            m.betrayed.append(i)
    else:
        return
    m.touched.update(origin)
    m.ops.append(f"{kind} at line {i + 1}: {line[:60]!r} -> {m.lines[i][1][:60]!r}")


KINDS = ["drop_bytes", "drop_newline", "swap", "break_label", "nul", "encoding"]


@st.composite
def mutated_digests(draw) -> Mutated:  # noqa: ANN001
    m = Mutated([([i], line) for i, line in enumerate(LINES)])
    for kind in draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3)):
        _mutate(m, kind, draw)
    # positions move when lines are merged or swapped: find each betrayed line again
    m.betrayed = [p for p, (_, line) in enumerate(m.lines) if _betrays(line)]
    return m


def _betrays(line: bytes) -> bool:
    """A NUL, or bytes that are no UTF-8."""
    if b"\x00" in line:
        return True
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(m=mutated_digests())
def test_mutated_digests_lose_nothing_silently(m: Mutated, tmp_path_factory) -> None:  # noqa: ANN001
    path = tmp_path_factory.mktemp("mutated") / "digest.md"
    data = m.data()
    path.write_bytes(data)
    report = parse_files([path])  # 1. no exception

    parsed = {e.id: _key(e) for e in report.entries}
    for e in REFERENCE:  # 2. untouched entries parsed exactly as before
        if not m.touched & SPANS[e.id]:
            assert parsed.get(e.id) == _key(e), e.id

    n_lines = data.count(b"\n") + 1
    named = {i.line for i in report.issues if i.line is not None and i.severity != "info"}
    for p in m.betrayed:  # 3. what the bytes betray is named with its line
        assert m.line_of(p) in named, (m.line_of(p), sorted(named))

    lost = [e.id for e in REFERENCE if e.id not in parsed]
    if lost:  # 4. a vanished entry is accounted for with a line
        assert named, lost

    for issue in report.issues:  # 5. every problem names the file and a real line
        assert issue.file == str(path)
        assert issue.line is None or 1 <= issue.line <= n_lines, issue


def test_the_whole_file_in_utf16_parses_like_the_original(tmp_path: Path) -> None:
    text = ORIGINAL.decode("utf-8")
    for codec in ("utf-16", "utf-16-le"):
        path = tmp_path / f"{codec}.md"
        path.write_bytes(text.encode(codec))
        assert [_key(e) for e in parse_files([path]).entries] == [_key(e) for e in REFERENCE]
