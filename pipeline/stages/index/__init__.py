"""Index: docs.py (one document per entry, and its chunks), stage.py (``index_stage``: the
Chroma vectors, ``index_docs.jsonl`` and what each registered retriever prepares)."""

from .stage import IndexReport, index_stage

__all__ = ["IndexReport", "index_stage"]
