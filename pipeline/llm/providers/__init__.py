"""One module per LLM provider (see ``pipeline/llm/base.py`` and ``registry.py``)."""
