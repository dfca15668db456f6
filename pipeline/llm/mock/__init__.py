"""The offline mock LLM: a deterministic OpenAI-compatible server (chat with structured output
and streaming, embeddings, models, files, batches), loaded only when ``--llm mock`` (provider
``mock``) is chosen, by tests, or by ``digest mock-llm``.

server.py (MockLLM: routing, chat, embeddings), wire.py (reply shapes), tasks.py (the task
handlers: translate, metadata, ask, text), schema.py (fills any JSON schema), text.py,
lexicon.py and romanize.py (its "translations"), faults.py (fault injection),
batch_store.py (files and batches), transport.py (in-process httpx transport), http.py (a
real port), recorder.py (what tests look at).
"""

from .faults import FaultPlan, parse_fault_spec
from .recorder import Recorder
from .server import MockLLM, MockTimeout
from .transport import BASE_URL, MockTransport, get_default_mock

__all__ = [
    "BASE_URL",
    "FaultPlan",
    "MockLLM",
    "MockTimeout",
    "MockTransport",
    "Recorder",
    "get_default_mock",
    "parse_fault_spec",
]
