"""Bytes of a digest file -> text: UTF-8 (with or without a BOM), else CP949/EUC-KR; a binary
or empty file is no digest."""

from __future__ import annotations

from ...records import ParseIssue


def decode_digest(data: bytes, name: str) -> tuple[str | None, list[ParseIssue]]:
    """Bytes -> text.  UTF-8 (with or without BOM), else CP949/EUC-KR.  Binary -> None."""
    issues: list[ParseIssue] = []
    if not data.strip():
        issues.append(ParseIssue(file=name, message="empty file", severity="warning"))
        return None, issues
    head = data[:8192]
    if b"\x00" in head or sum(b < 9 or 13 < b < 32 for b in head) > len(head) // 20:
        issues.append(ParseIssue(file=name, message="binary file, not a digest: skipped"))
        return None, issues
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), issues
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
            return data[: exc.start].decode("utf-8"), issues
        utf8_error = exc
    try:
        text = data.decode("cp949")
        issues.append(ParseIssue(file=name, message="decoded as CP949/EUC-KR", severity="warning"))
        return text, issues
    except UnicodeDecodeError:
        pass
    line = data[: utf8_error.start].count(b"\n") + 1
    issues.append(
        ParseIssue(
            file=name, line=line, message="invalid UTF-8 bytes replaced with U+FFFD", severity="warning"
        )
    )
    return data.decode("utf-8", errors="replace"), issues
