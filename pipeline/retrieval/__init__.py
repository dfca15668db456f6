"""Retrieval over the index: retrievers registered by name (``base.py``: dense vectors,
English BM25, Korean BM25), fused by weighted reciprocal rank (``fusion.py``) in the
:class:`~.searcher.Searcher`; grounded question answering (``ask.py``) and the retrieval
evaluation (``evaluate.py``) on top."""
