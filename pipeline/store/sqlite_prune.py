"""Dropping the rows of an SQLite table whose key is not among those in use: the caches
keyed by content (input lines, bridge facts) grow with every change of their inputs, and
are pruned when they hold many more rows than are in use."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection


def prune(conn: sqlite3.Connection, table: str, column: str, in_use: Collection[str]) -> int:
    """Within the caller's transaction: when ``table`` holds more than twice ``in_use`` (and
    1,000 rows to spare), delete its rows whose ``column`` is not in ``in_use``.  Returns
    how many rows were deleted."""
    (held,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    if held <= 2 * len(in_use) + 1000:
        return 0
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS prune_keep (key TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM prune_keep")
    conn.executemany("INSERT OR IGNORE INTO prune_keep VALUES (?)", ((k,) for k in in_use))
    deleted = conn.execute(f"DELETE FROM {table} WHERE {column} NOT IN (SELECT key FROM prune_keep)").rowcount
    conn.execute("DELETE FROM prune_keep")
    return int(deleted)
