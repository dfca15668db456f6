"""API keys stored by name in the user dir (``keys.json``, mode 0600), as ``llm keys`` does.

A key is never printed or logged: ``names()`` lists what is stored, ``get()`` is for the
settings loader only.  A keys file that other users can read is refused (like ssh refuses
such a private key): its keys are not used until its mode is fixed (``chmod 600``, or
``digest keys set`` again, which rewrites it 0600).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import tempfile
from pathlib import Path

from ..errors import ConfigError
from .paths import PRIVATE_MODE, UserDir

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME.match(name):
        raise ConfigError(f"invalid key name {name!r}: use letters, digits, '-', '_' or '.' (e.g. openai)")
    return name


def too_open(path: Path) -> int | None:
    """The file's permission bits when group or others may read or write it, else None
    (always None where POSIX modes do not apply)."""
    if os.name != "posix":
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    return mode if mode & 0o077 else None


class KeyStore:
    """``keys.json`` in the user dir: ``{"openai": "sk-..."}``."""

    def __init__(self, user_dir: Path | UserDir) -> None:
        self.user_dir = user_dir if isinstance(user_dir, UserDir) else UserDir(user_dir)
        self.path = self.user_dir.keys_path

    def _read(self, *, strict: bool) -> dict[str, str]:
        if not self.path.is_file():
            return {}
        mode = too_open(self.path)
        if mode is not None:
            msg = (
                f"keys file {self.path} can be read by other users (mode {mode:04o}): its keys are "
                f"not used; run `chmod 600 {self.path}` or `digest keys set` again"
            )
            if strict:
                raise ConfigError(msg)
            log.warning("%s", msg)
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not valid JSON"
            raise ConfigError(f"cannot read keys file {self.path}: {reason}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"cannot read keys file {self.path}: not a JSON object")
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str) and not k.startswith("//")}

    def get(self, name: str) -> str | None:
        """The key stored as ``name``; None when there is none (or the file is refused)."""
        return self._read(strict=False).get(name) or None

    def names(self) -> list[str]:
        return sorted(self._read(strict=False))

    def set(self, name: str, value: str) -> None:
        name = check_name(name)
        value = (value or "").strip()
        if not value:
            raise ConfigError("empty key: nothing stored")
        if any(c.isspace() for c in value):
            raise ConfigError("the key contains white space: nothing stored")
        keys = self._read_for_update()
        keys[name] = value
        self._write(keys)

    def remove(self, name: str) -> bool:
        keys = self._read_for_update()
        if name not in keys:
            return False
        del keys[name]
        self._write(keys)
        return True

    def _read_for_update(self) -> dict[str, str]:
        """The stored keys, also from a file whose mode is too open (it is about to be
        rewritten 0600 by the user who owns it)."""
        if not self.path.is_file():
            return {}
        with contextlib.suppress(OSError):
            if too_open(self.path) is not None:
                os.chmod(self.path, PRIVATE_MODE)
        return self._read(strict=True)

    def _write(self, keys: dict[str, str]) -> None:
        """Atomically, never readable by others (mkstemp creates the file 0600)."""
        self.user_dir.ensure()
        fd, tmp = tempfile.mkstemp(prefix=".keys.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                if hasattr(os, "fchmod"):
                    os.fchmod(f.fileno(), PRIVATE_MODE)
                json.dump(dict(sorted(keys.items())), f, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
