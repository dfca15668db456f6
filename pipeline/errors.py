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


class LockError(DigestError):
    """Another run holds the output folder."""

    exit_code = 5
