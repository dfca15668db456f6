"""Enrich: extract.py (deterministic fields), schema.py (what the LLM returns; the published
schema), plan.py (requests, cache keys, journal), engine.py (merging, checks),
stage.py (``enrich_stage``), batch.py (the Batch API adapter)."""

from .stage import EnrichReport, enrich_stage

__all__ = ["EnrichReport", "enrich_stage"]
