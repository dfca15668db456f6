"""The output folder's map: every artifact path from one object; missing inputs are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.records import Entry, SectionTranslation
from pipeline.settings import load_settings
from pipeline.store.jsonl import write_jsonl_atomic
from pipeline.store.layout import OutDir


def test_paths_are_inside_the_folder_and_distinct(tmp_path: Path) -> None:
    out = OutDir(tmp_path)
    paths = [
        out.entries_path,
        out.parse_issues_path,
        out.translations_path,
        out.glossary_path,
        out.metadata_path,
        out.index_db_path,
        out.chroma_dir,
        out.bm25_dir,
        out.lexicon_path,
        out.journal_path("translate"),
        out.journal_path("enrich"),
        out.newsletter_dir,
        out.batch_ledger_path,
        tmp_path / out.batch_request_file("x"),
        out.mock_state_dir,
        out.lock_path,
    ]
    assert len(set(paths)) == len(paths)
    assert all(p.is_relative_to(tmp_path) for p in paths)


@pytest.mark.inconsistent_ok  # hand-made records, not a digest command's output
def test_loaders_round_trip_and_missing_inputs_are_clear(tmp_path: Path) -> None:
    out = OutDir(tmp_path)
    with pytest.raises(InputError, match="run `digest parse` first"):
        out.load_entries()
    with pytest.raises(InputError, match="run `digest index` first"):
        out.load_index_docs()
    assert out.load_translations() == [] and out.load_metadata() == []
    assert out.load_index_docs(missing_ok=True) == []
    entry = Entry(id="1", title="t", source_file="f", source_line=1)
    write_jsonl_atomic(out.entries_path, [entry])
    tr = SectionTranslation(entry_id="1", index=0, source_hash="h", text="x", origin="model")
    write_jsonl_atomic(out.translations_path, [tr])
    assert out.load_entries() == [entry] and out.load_translations() == [tr]


def test_the_default_glossary_is_the_folders(tmp_path: Path) -> None:
    settings = load_settings(None, out_dir=tmp_path)
    assert settings.translate.glossary_file == OutDir(tmp_path).glossary_path
