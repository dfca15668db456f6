"""Newsletter: model.py (the issue's view-model), formats.py (md, html, rss: a registry),
render.py (Jinja2, data never becomes markup), intro.py (the LLM-written intro),
stage.py (``newsletter_stage``, ``newsletter_all_dates``).

This ``__init__`` imports nothing: the CLI reads ``formats.FORMATS`` when it starts, and
must not load the templates engine for that."""
