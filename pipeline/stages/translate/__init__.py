"""Translate: plan.py (sections -> segments, cache keys, packing), engine.py (requests,
replies, regroup and re-ask), validate.py, glossary.py, stage.py (``translate_stage``),
batch.py (the Batch API adapter)."""

from .stage import TranslateReport, translate_stage

__all__ = ["TranslateReport", "translate_stage"]
