"""The user's own files, shared by every project and output folder: ``paths.py`` (the user
dir and what lives in it), ``keys.py`` (API keys, 0600), ``logs.py`` (every ``ask`` in
SQLite).  The user dir is ``$DIGEST_USER_DIR``, else ``$XDG_CONFIG_HOME/digest``, else
``~/.config/digest`` (resolved by ``settings.py``, the one reader of the environment)."""
