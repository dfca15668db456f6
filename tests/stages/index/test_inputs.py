"""The index stage reads its inputs by line fingerprint: an entry whose lines (and the memory)
are unchanged is neither parsed nor built again, and what an incremental run stores equals
what a fresh index of the same inputs stores: documents, lexical indexes, bridge table."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from pathlib import Path

import numpy as np

from pipeline.retrieval.lexical_index import LexicalIndex
from pipeline.stages.index import index_stage, inputs, stage
from pipeline.store.docstate import read_state
from tests.retrieval.helpers import make_retrieval_out

INPUTS = ("entries.jsonl", "translations.jsonl", "metadata.jsonl")


def _settings(out: Path):
    return make_retrieval_out(out, build_index=False)


def _retraining(settings):
    """``settings`` with the bridge's alignment trained at every run (a kept one, trained
    on nearly the same sections, differs from a fresh one)."""
    search = settings.search.model_copy(update={"bridge_retrain_share": 0.0})
    return settings.model_copy(update={"search": search})


def _docs(out: Path) -> list[tuple]:
    conn = sqlite3.connect(out / "index.sqlite")
    try:
        rows = conn.execute("SELECT pos, entry_id, hash, chunks, record, untranslated FROM docs ORDER BY pos")
        return [tuple(r) for r in rows]
    finally:
        conn.close()


def _lexical(out: Path) -> dict[str, dict[tuple[int, str], float]]:
    """Each lexical index as (position, token) -> weight (token ids differ between lexicons)."""
    meta = read_state(out / "index.sqlite", docs=False)[1]
    conn = sqlite3.connect(out / "bm25" / "lexicon.sqlite")
    vocab = {i: t for t, i in conn.execute("SELECT token, id FROM vocab")}
    conn.close()
    got = {}
    for name in ("bm25_en", "bm25_ko"):
        index = LexicalIndex.load(out / "bm25" / meta[f"retriever:{name}"]["dir"])
        weights = {}
        for token in range(index.vocab_size):
            start, end = int(index.indptr[token]), int(index.indptr[token + 1])
            for pos, w in zip(index.indices[start:end], index.data[start:end], strict=True):
                weights[(int(pos), vocab[token])] = float(np.float32(w))
        got[name] = weights
    return got


def _table(out: Path) -> str:
    (table,) = (out / "bridge").glob("table-*.json")
    return json.loads(table.read_text(encoding="utf-8"))


def _same_as_fresh(out: Path, settings, tmp_path: Path) -> None:
    fresh = tmp_path / f"fresh-{len(list(tmp_path.glob('fresh-*')))}"
    fresh.mkdir()
    for name in INPUTS:
        if (out / name).exists():
            shutil.copy(out / name, fresh / name)
    settings = _retraining(settings)
    index_stage(settings)  # the alignment trained again, from the pairs read for it
    index_stage(settings.model_copy(update={"out_dir": fresh, "cache_dir": fresh / "cache"}))
    assert _docs(out) == _docs(fresh)
    assert _lexical(out) == _lexical(fresh)
    assert _table(out) == _table(fresh)


def _append(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def _line_of(path: Path, field: str, value: str) -> list[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [n for n, line in enumerate(lines, 1) if json.loads(line).get(field) == value]


def _count(monkeypatch) -> dict[str, list]:
    seen: dict[str, list] = {"parsed": [], "built": []}
    parse, build = inputs._Lines.parse, stage.build_docs

    def counting_parse(self, i, model):
        seen["parsed"].append((self.kind, i + 1))
        return parse(self, i, model)

    monkeypatch.setattr(inputs._Lines, "parse", counting_parse)
    monkeypatch.setattr(
        stage, "build_docs", lambda e, *a: seen["built"].extend(x.id for x in e) or build(e, *a)
    )
    return seen


def test_unchanged_entries_are_neither_parsed_nor_built(tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    search = settings.search.model_copy(update={"bridge_retrain_share": 1.0})  # the alignment kept
    settings = settings.model_copy(update={"search": search})
    index_stage(settings)
    seen = _count(monkeypatch)

    report = index_stage(settings)
    assert seen == {"parsed": [], "built": []}
    assert (report.added, report.updated, report.unchanged, report.untranslated) == (0, 0, 5, 1)

    # a section translated again (appended, the last record wins): that entry's lines only
    record = json.loads((tmp_path / "translations.jsonl").read_text().splitlines()[5])
    _append(
        tmp_path / "translations.jsonl",
        {**record, "text": "A world model of page transitions guides web agents."},
    )
    report = index_stage(settings)
    assert seen["built"] == [record["entry_id"]]
    theirs = {("entries", _line_of(tmp_path / "entries.jsonl", "id", record["entry_id"])[0])}
    theirs |= {
        ("translations", n) for n in _line_of(tmp_path / "translations.jsonl", "entry_id", record["entry_id"])
    }
    theirs |= {("metadata", n) for n in _line_of(tmp_path / "metadata.jsonl", "entry_id", record["entry_id"])}
    assert sorted(seen["parsed"]) == sorted(theirs)  # that entry's lines, each once
    assert (report.updated, report.unchanged) == (1, 4)
    _same_as_fresh(tmp_path, settings, tmp_path)


def test_an_incremental_index_stores_what_a_fresh_one_does(tmp_path, caplog):
    """Changes of every kind, one run each, compared with a fresh index of the same inputs."""
    settings = _settings(tmp_path)
    index_stage(settings)
    _same_as_fresh(tmp_path, settings, tmp_path)

    entries = (tmp_path / "entries.jsonl").read_text().splitlines()
    # metadata changed for one entry (the last record wins), another entry's votes edited
    _append(tmp_path / "metadata.jsonl", {"entry_id": json.loads(entries[1])["id"], "topic": "robots"})
    first = json.loads(entries[0])
    entries[0] = json.dumps({**first, "votes": 7})
    (tmp_path / "entries.jsonl").write_text("\n".join(entries) + "\n")
    index_stage(settings)
    _same_as_fresh(tmp_path, settings, tmp_path)

    # an entry removed, the others reordered, a corrupt line in the middle of the translations
    lines = (tmp_path / "translations.jsonl").read_text().splitlines()
    lines.insert(3, '{"entry_id": "2406.02539", "index": 0, "text": "torn')
    (tmp_path / "translations.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "entries.jsonl").write_text("\n".join(reversed(entries[1:])) + "\n")
    with caplog.at_level(logging.WARNING):
        report = index_stage(settings)
    assert f"{tmp_path / 'translations.jsonl'}:4: skipping a corrupt line" in caplog.text
    assert (report.deleted, report.entries) == (1, 4)
    _same_as_fresh(tmp_path, settings, tmp_path)

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        index_stage(settings)  # the bad line is never taken for a known one
    assert "translations.jsonl:4: skipping a corrupt line" in caplog.text


def test_a_changed_memory_builds_the_documents_again(tmp_path):
    settings = _settings(tmp_path)
    index_stage(settings)
    entry = json.loads((tmp_path / "entries.jsonl").read_text().splitlines()[4])
    memory = tmp_path / "memory.jsonl"
    memory.write_text(
        json.dumps({"ko": entry["sections"][0]["text"], "en": "Reviewed: a fully open multilingual model."})
        + "\n",
        encoding="utf-8",
    )
    with_memory = settings.model_copy(
        update={"translate": settings.translate.model_copy(update={"memory_files": [memory]})}
    )
    report = index_stage(with_memory)
    assert report.updated == 1  # the one entry the memory renders; the others come out the same
    assert any("Reviewed: a fully open" in row[4] for row in _docs(tmp_path))
    _same_as_fresh(tmp_path, with_memory, tmp_path)


def test_a_store_written_before_fingerprints_is_upgraded_in_place(tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    index_stage(settings)
    before = _docs(tmp_path)
    conn = sqlite3.connect(tmp_path / "index.sqlite")
    conn.executescript(
        "ALTER TABLE docs DROP COLUMN inputs; ALTER TABLE docs DROP COLUMN untranslated; DROP TABLE lines;"
    )
    conn.close()
    for keys in (tmp_path / "bm25").glob("*/keys.json"):
        keys.unlink()
    report = index_stage(settings)  # every entry built and compared: nothing changed
    assert (report.unchanged, report.chunks_added, report.untranslated) == (5, 0, 1)
    assert _docs(tmp_path) == before
    assert len(list((tmp_path / "bm25").glob("*/keys.json"))) == 2
    seen = _count(monkeypatch)
    index_stage(settings)
    assert seen == {"parsed": [], "built": []}


def test_a_line_that_is_not_utf8_is_skipped_with_its_line_number(tmp_path, caplog):
    settings = _settings(tmp_path)
    with open(tmp_path / "translations.jsonl", "ab") as f:
        f.write(b'{"entry_id": "\xff\xfe", "index": 0}\n')
    with caplog.at_level(logging.WARNING):
        report = index_stage(settings)
    assert "translations.jsonl:11: skipping a corrupt line" in caplog.text
    assert report.entries == 5


def test_an_entry_id_given_twice_is_indexed_once_from_its_later_record(tmp_path, caplog):
    """A hand-edited entries file may hold an id twice: the later record is indexed (as the
    later record of a translation wins), the earlier named with both lines; removing either
    line later still stores what a fresh index does."""
    settings = _settings(tmp_path)
    entries = (tmp_path / "entries.jsonl").read_text().splitlines()
    index_stage(settings)
    first = json.loads(entries[0])
    again = json.dumps({**first, "title": first["title"] + " (revised)"})
    (tmp_path / "entries.jsonl").write_text("\n".join([entries[0], *entries[1:], again]) + "\n")
    with caplog.at_level(logging.WARNING):
        report = index_stage(settings)
    assert f"entries.jsonl:1: entry {first['id']} is given again at line 6" in caplog.text
    assert report.entries == 5
    rows = _docs(tmp_path)
    assert [r[1] for r in rows].count(first["id"]) == 1
    assert any("(revised)" in r[4] for r in rows if r[1] == first["id"])
    _same_as_fresh(tmp_path, settings, tmp_path)

    (tmp_path / "entries.jsonl").write_text("\n".join([again, *entries[1:], entries[0]]) + "\n")
    index_stage(settings)
    _same_as_fresh(tmp_path, settings, tmp_path)
    (tmp_path / "entries.jsonl").write_text("\n".join([again, *entries[1:]]) + "\n")
    index_stage(settings)
    _same_as_fresh(tmp_path, settings, tmp_path)


def test_line_endings_and_white_space_are_read_as_the_other_readers_read_them(tmp_path, caplog):
    """CR-only and CRLF line ends, Unicode white space around a record, a line of white space
    alone: what `read_jsonl` makes of them, the index makes of them, silently."""
    from pipeline.records import SectionTranslation
    from pipeline.store.reading import read_jsonl

    settings = _settings(tmp_path)
    path = tmp_path / "translations.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    mixed = "\r".join(lines[:3]) + "\r\n" + lines[3] + "\u3000\n\u00a0\n" + "\n".join(lines[4:]) + "\n"
    path.write_text(mixed, encoding="utf-8", newline="")
    assert len(read_jsonl(path, SectionTranslation)) == len(lines)
    with caplog.at_level(logging.WARNING):
        index_stage(settings)
    assert "skipping" not in caplog.text
    _same_as_fresh(tmp_path, settings, tmp_path)


def test_a_deeply_nested_line_is_skipped_not_fatal(tmp_path, caplog):
    from pipeline.records import Metadata
    from pipeline.store.reading import read_jsonl

    settings = _settings(tmp_path)
    with open(tmp_path / "metadata.jsonl", "a", encoding="utf-8") as f:
        f.write("[" * 100_000 + "\n")
        f.write('{"entry_id": "x", "votes": ' + "1" * 5000 + "}\n")
    with caplog.at_level(logging.WARNING):
        assert len(read_jsonl(tmp_path / "metadata.jsonl", Metadata)) == 5
        report = index_stage(settings)
    assert report.entries == 5
    assert "metadata.jsonl:6: skipping a corrupt line" in caplog.text
    assert "metadata.jsonl:7: skipping" in caplog.text
