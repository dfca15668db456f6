"""The Batch API path of the LLM stages (half price, within 24 hours): ``ledger.py`` records
every step (a leaf), ``orchestrator.py`` submits, collects and reports, driving each stage
only through the ``BatchAdapter`` it registers."""
