"""One root exception; the CLI turns any DigestError into a clean message and exit code."""


class DigestError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code = 1


class ConfigError(DigestError):
    """Bad settings: unknown model, bad URL, missing key, missing file."""

    exit_code = 2


class InputError(DigestError):
    """Bad input files."""

    exit_code = 3


class LLMError(DigestError):
    """The LLM endpoint failed in a way retries did not fix."""

    exit_code = 4


class ContextLengthError(LLMError):
    """The request exceeded the model's context window (any server's wording or status).

    Never retried as is: the stage splits the batch (or shortens the input).
    ``context_window`` is the window in tokens when the server stated it."""

    context_window: int | None = None


class LockError(DigestError):
    """Another run holds the output folder."""

    exit_code = 5


class CostLimitError(DigestError):
    """The run stopped before spending more than ``llm.max_cost`` (``--max-cost``) allows;
    finished work is journaled, so a re-run resumes."""

    exit_code = 6


class Interrupted(DigestError):
    """Ctrl-C: in-flight requests were abandoned, finished work is journaled."""

    exit_code = 130
