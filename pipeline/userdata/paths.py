"""The user dir and the files in it: one place spells their names (as ``store/layout.py``
does for an output folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONFIG = "config.toml"  # user-level settings, below a project's digest.toml
KEYS = "keys.json"  # API keys by name, mode 0600
LOGS = "logs.db"  # SQLite: every `digest ask`
ASK_HISTORY = "ask_history"  # readline history of interactive `digest ask`

DIR_MODE = 0o700
PRIVATE_MODE = 0o600


@dataclass(frozen=True)
class UserDir:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser())

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG

    @property
    def keys_path(self) -> Path:
        return self.root / KEYS

    @property
    def logs_path(self) -> Path:
        return self.root / LOGS

    @property
    def history_path(self) -> Path:
        return self.root / ASK_HISTORY

    def ensure(self) -> Path:
        """Create the user dir (private to the user) when missing."""
        if not self.root.is_dir():
            self.root.mkdir(parents=True, mode=DIR_MODE, exist_ok=True)
        return self.root


def default_user_dir(xdg_config_home: str | None, home: Path) -> Path:
    """``$XDG_CONFIG_HOME/digest`` when that is an absolute path (as the XDG spec asks),
    else ``~/.config/digest``."""
    if xdg_config_home and Path(xdg_config_home).is_absolute():
        return Path(xdg_config_home) / "digest"
    return home / ".config" / "digest"
