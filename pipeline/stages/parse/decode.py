"""Bytes of a digest file -> text.

- UTF-8 (with or without a BOM); UTF-16 and UTF-32 with a BOM; UTF-16 without a BOM when the
  byte pattern says so (see :func:`sniff_utf16`).  A UTF-8 file with some bad bytes (a line
  pasted from another encoding, a damaged character) stays UTF-8 when its well-formed
  multi-byte characters outnumber the bad bytes: the bad bytes become
  U+FFFD with a warning naming each line.  A file that is not UTF-8 at all is read as
  CP949/EUC-KR; failing that, as UTF-8 with replacements.
- NUL and other control characters (everything below U+0020 but tab and line breaks, and
  DEL) are removed, with one warning per line naming it: a stray NUL no longer makes a good
  digest look binary, and no control character reaches the records.
- Line breaks become ``\\n`` (CRLF, CR, and the Unicode separators U+0085, U+2028, U+2029),
  so line numbers mean what an editor shows.
- A file that is mostly control bytes is binary: skipped with an error.  An empty file is
  skipped with a warning.
"""

from __future__ import annotations

import re

from ...records import ParseIssue

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BAD_BYTE = re.compile(r"[\udc80-\udcff]+")  # undecodable bytes under errors="surrogateescape"
_LINE_BREAKS = re.compile(r"\r\n|[\r\x85\u2028\u2029]")
MAX_LINES_NAMED = 20  # problems on more lines than this: one more issue counts the rest
_GOOD_NON_ASCII = re.compile(r"[^\x00-\x7f\udc80-\udcff]")  # well-formed multi-byte UTF-8
BINARY_CONTROL_SHARE = 0.10  # decoded text with more control characters than this is binary

_BOMS = (  # longest first: the UTF-32-LE BOM starts like UTF-16-LE's
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
    (b"\xef\xbb\xbf", "utf-8", ""),
    (b"\xff\xfe", "utf-16-le", "UTF-16"),
    (b"\xfe\xff", "utf-16-be", "UTF-16"),
)


def sniff_utf16(data: bytes) -> str | None:
    """``"utf-16-le"`` / ``"utf-16-be"`` for UTF-16 without a BOM, else None.

    Reliable for digests: their Markdown, URLs and labels are ASCII, and in UTF-16 every ASCII
    character has a zero byte on the same side (odd offsets for little-endian).  Required: an
    even length, at least a quarter of the bytes on one side zero and almost none on the other,
    and a clean decode."""
    head = data[:8192]
    if len(data) % 2 or len(head) < 16:
        return None
    even, odd = head[0::2], head[1::2]
    zero_even, zero_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    for codec, zeros, other in (("utf-16-le", zero_odd, zero_even), ("utf-16-be", zero_even, zero_odd)):
        if zeros >= 0.25 and other <= 0.02:
            try:
                data.decode(codec)
            except UnicodeDecodeError:
                return None
            return codec
    return None


def decode_digest(data: bytes, name: str) -> tuple[str | None, list[ParseIssue]]:
    """Bytes -> text (see the module doc).  Binary or empty -> None."""
    issues: list[ParseIssue] = []
    if not data.strip(b" \t\r\n\x00"):
        issues.append(ParseIssue(file=name, message="empty file", severity="warning"))
        return None, issues
    text = _decode_unicode(data, name, issues)
    if text is None:
        text = _decode_bytes(data, name, issues)
    if len(_CONTROL.findall(text)) > BINARY_CONTROL_SHARE * len(text):
        issues[:] = [ParseIssue(file=name, message="binary file, not a digest: skipped")]
        return None, issues
    text = _LINE_BREAKS.sub("\n", text)
    return remove_controls(text, name, issues), issues


def _decode_unicode(data: bytes, name: str, issues: list[ParseIssue]) -> str | None:
    """A file with a BOM, or UTF-16 without one (its zero bytes are no binary)."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            if codec == "utf-8":
                return None  # the UTF-8 path handles its BOM (and truncation, CP949...)
            body = data[len(bom) :]
            note = f"decoded as {label} (byte order mark)"
            return _decode_or_replace(body, codec, name, note, issues)
    codec = sniff_utf16(data)
    if codec is not None:
        note = "decoded as UTF-16 (no byte order mark; detected from its zero bytes)"
        return _decode_or_replace(data, codec, name, note, issues)
    return None


def _decode_or_replace(body: bytes, codec: str, name: str, note: str, issues: list[ParseIssue]) -> str:
    issues.append(ParseIssue(file=name, message=note, severity="info"))
    try:
        return body.decode(codec)
    except UnicodeDecodeError as exc:
        text = body.decode(codec, errors="replace")
        line = body[: exc.start].decode(codec, errors="replace").count("\n") + 1
        issues.append(
            ParseIssue(
                file=name,
                line=line,
                message=f"invalid {codec} bytes replaced with U+FFFD",
                severity="warning",
            )
        )
        return text


def _decode_bytes(data: bytes, name: str, issues: list[ParseIssue]) -> str:
    """UTF-8 (a BOM dropped; a few bad bytes replaced), else CP949/EUC-KR, else UTF-8 with
    replacements (each run of bad bytes one U+FFFD)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            issues.append(
                ParseIssue(
                    file=name,
                    line=data.count(b"\n") + 1,
                    message="file ends inside a character (truncated?)",
                    severity="warning",
                )
            )
            return _decode_bytes(data[: exc.start], name, issues)
    escaped = data.decode("utf-8", errors="surrogateescape")
    bad = sum(len(m) for m in _BAD_BYTE.findall(escaped))
    if len(_GOOD_NON_ASCII.findall(escaped)) > bad:
        # more well-formed UTF-8 characters than stray bytes: a UTF-8 file with damage (CP949
        # text forms a valid UTF-8 pair only now and then, and leaves most of its bytes stray)
        return _replace_bad_bytes(escaped, name, issues)
    try:
        text = data.decode("cp949")
        issues.append(ParseIssue(file=name, message="decoded as CP949/EUC-KR", severity="info"))
        return text
    except UnicodeDecodeError:
        pass
    return _replace_bad_bytes(escaped, name, issues)  # binary? decode_digest looks at the text


def _replace_bad_bytes(escaped: str, name: str, issues: list[ParseIssue]) -> str:
    """U+FFFD for each run of undecodable bytes, one warning per line that had any."""
    lines = escaped.split("\n")
    dirty = [i for i, line in enumerate(lines) if _BAD_BYTE.search(line)]
    for i in dirty[:MAX_LINES_NAMED]:
        issues.append(
            ParseIssue(
                file=name, line=i + 1, message="invalid UTF-8 bytes replaced with U+FFFD", severity="warning"
            )
        )
    if len(dirty) > MAX_LINES_NAMED:
        issues.append(
            ParseIssue(
                file=name,
                line=dirty[MAX_LINES_NAMED] + 1,
                message=f"invalid UTF-8 bytes also replaced on {len(dirty) - MAX_LINES_NAMED} more lines",
                severity="warning",
            )
        )
    return _BAD_BYTE.sub("\ufffd", escaped)


def remove_controls(text: str, name: str, issues: list[ParseIssue]) -> str:
    """Drop NUL and the other control characters, one warning per line that had any."""
    if not _CONTROL.search(text):
        return text
    lines = text.split("\n")
    dirty = [i for i, line in enumerate(lines) if _CONTROL.search(line)]
    for i in dirty[:MAX_LINES_NAMED]:
        found = sorted({f"U+{ord(c):04X}" for c in _CONTROL.findall(lines[i])})
        what = "NUL byte" if found == ["U+0000"] else "control character(s) " + ", ".join(found)
        issues.append(ParseIssue(file=name, line=i + 1, message=f"{what} removed", severity="warning"))
    if len(dirty) > MAX_LINES_NAMED:
        issues.append(
            ParseIssue(
                file=name,
                line=dirty[MAX_LINES_NAMED] + 1,
                message=f"control characters also removed on {len(dirty) - MAX_LINES_NAMED} more lines",
                severity="warning",
            )
        )
    for i in dirty:
        lines[i] = _CONTROL.sub("", lines[i])
    return "\n".join(lines)
