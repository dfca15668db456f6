"""A content-keyed cache table is pruned to the keys in use once it holds many more."""

from __future__ import annotations

import sqlite3

from pipeline.store.sqlite_prune import prune


def test_prune_waits_for_many_more_rows_then_keeps_only_those_in_use():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE cache (key TEXT PRIMARY KEY, value TEXT)")
    conn.executemany("INSERT INTO cache VALUES (?, 'v')", [(f"k{i}",) for i in range(1500)])
    in_use = {f"k{i}" for i in range(200)}
    assert prune(conn, "cache", "key", {f"k{i}" for i in range(300)}) == 0  # 1500 <= 2*300+1000
    assert conn.execute("SELECT count(*) FROM cache").fetchone() == (1500,)
    assert prune(conn, "cache", "key", in_use) == 1300  # 1500 > 2*200+1000
    assert {k for (k,) in conn.execute("SELECT key FROM cache")} == in_use
