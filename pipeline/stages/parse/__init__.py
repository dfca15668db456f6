"""Parse: decode.py (bytes -> text), readers/ (a registry of digest layouts), stage.py
(``parse_stage``: files -> ``entries.jsonl``)."""

from .stage import ParseReport, parse_files, parse_stage, parse_text

__all__ = ["ParseReport", "parse_files", "parse_stage", "parse_text"]
