"""Translate: plan.py (sections -> segments, cache keys, packing), request.py (a request and
its reply), engine.py (regroup and re-ask within the retry budget), validate.py, glossary.py,
stage.py (``translate_stage``), batch.py (the Batch API adapter)."""

from .stage import TranslateReport, translate_stage

__all__ = ["TranslateReport", "translate_stage"]
