"""Index stage: idempotent re-indexing, updates, deletions, collection naming, server mode."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.retrieval.dense import get_collection, open_client
from pipeline.stages.index import index_stage
from pipeline.store.layout import OutDir
from tests.paths import ROOT
from tests.retrieval.helpers import change_translation, make_retrieval_out

CHROMA = ROOT / ".venv" / "bin" / "chroma"


def make_out(tmp: Path, **index: object):
    """An output folder with parsed fixture entries, translations and metadata (not indexed)."""
    return make_retrieval_out(tmp, build_index=False, **index)


def collection_ids(settings) -> dict[str, dict]:
    from pipeline.retrieval.embeddings import embedding_function

    col = get_collection(settings, open_client(settings), embedding_function(settings), create=False)
    got = col.get(include=["metadatas"])
    return dict(zip(got["ids"], got["metadatas"], strict=True))


def test_reindexing_unchanged_input_writes_nothing(tmp_path):
    settings = make_out(tmp_path)
    first = index_stage(settings)
    assert (first.added, first.updated, first.deleted) == (5, 0, 0)
    before = collection_ids(settings)
    docs_mtime = OutDir(tmp_path).index_db_path.stat().st_mtime_ns

    second = index_stage(settings)
    assert (second.added, second.updated, second.deleted, second.unchanged) == (0, 0, 0, 5)
    assert second.chunks_added == second.chunks_deleted == second.metadata_updated == 0
    assert collection_ids(settings) == before
    assert OutDir(tmp_path).index_db_path.stat().st_mtime_ns == docs_mtime
    assert "0 added, 0 updated, 0 deleted" in second.summary()


def test_changed_entry_is_updated_and_removed_entry_deleted(tmp_path):
    settings = make_out(tmp_path)
    index_stage(settings)
    before = collection_ids(settings)

    # change one translation, and a vote count (metadata only) of another entry
    change_translation(tmp_path, 5, "It couples web agents with a learned world model of page transitions.")
    entries = [json.loads(x) for x in (tmp_path / "entries.jsonl").read_text().splitlines()]
    entries[0]["votes"] = 99
    # drop the last entry
    removed = entries.pop()
    (tmp_path / "entries.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))

    report = index_stage(settings)
    assert report.added == 0
    assert report.updated == 2  # changed text + changed votes
    assert report.deleted == 1
    after = collection_ids(settings)
    assert removed["id"] not in {m["entry_id"] for m in after.values()}
    web = [m for m in after.values() if m["entry_id"] == "2410.13232"]
    assert web and all(cid not in before for cid, m in after.items() if m["entry_id"] == "2410.13232")
    parrot = [m for m in after.values() if m["entry_id"] == "2406.02539"]
    assert parrot[0]["votes"] == 99
    # the unchanged entries kept their chunks
    for cid, m in before.items():
        if m["entry_id"] in ("2406.01014", "2412.07583"):
            assert cid in after
    assert {d.entry_id for d in OutDir(settings.out_dir).load_index_docs()} == {e["id"] for e in entries}


def test_chunk_metadata_has_filter_fields(tmp_path):
    settings = make_out(tmp_path)
    index_stage(settings)
    metas = list(collection_ids(settings).values())
    parrot = next(m for m in metas if m["entry_id"] == "2406.02539")
    assert parrot["arxiv_id"] == "2406.02539"
    assert parrot["date"] == "2024-06-06" and parrot["date_int"] == 20240606
    assert parrot["votes"] == 24 and parrot["topic"] == "multimodal"
    assert parrot["authors"] == "Alice Kim, Bob Lee"


def test_untranslated_entry_indexed_by_title_and_english_terms(tmp_path):
    settings = make_out(tmp_path)
    report = index_stage(settings)
    assert report.untranslated == 1
    pangea = next(d for d in OutDir(settings.out_dir).load_index_docs() if d.entry_id == "2410.16153")
    assert "PangeaBench" in pangea.english and "PangeaIns" in pangea.english
    assert pangea.english.startswith("Pangea: A Fully Open")
    assert pangea.sections_translated == 0 and "39개 언어" in pangea.korean


def test_collection_name_depends_on_model_and_chunking(tmp_path):
    from pipeline.retrieval.embeddings import collection_name

    a = make_out(tmp_path)
    b = a.model_copy(update={"index": a.index.model_copy(update={"chunk_tokens": 100})})
    c = a.model_copy(update={"index": a.index.model_copy(update={"embedding": "local"})})
    names = {collection_name(s, "v1") for s in (a, b, c)}
    assert len(names) == 3
    assert collection_name(c, "v1").startswith("digest-all-minilm-l6-v2-")


def test_small_chunks_split_long_entries(tmp_path):
    settings = make_out(tmp_path, chunk_tokens=40)
    report = index_stage(settings)
    assert report.chunks > report.entries
    for text in [m for m in OutDir(settings.out_dir).load_index_docs()]:
        assert text.chunks  # every entry has at least one chunk


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_server_mode_with_real_chroma(tmp_path):
    port = _free_port()
    data = tmp_path / "chroma-server"
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(data), "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "chroma server exited"
            assert time.monotonic() < deadline, "chroma server did not start"
            time.sleep(0.3)
        out = tmp_path / "out"
        out.mkdir()
        settings = make_out(out, chroma_url=f"http://127.0.0.1:{port}", embedding="local")
        first = index_stage(settings)
        assert first.added == 5 and "127.0.0.1" in first.where
        assert not (out / "chroma").exists()  # nothing stored locally
        assert index_stage(settings).unchanged == 5

        from pipeline.retrieval.searcher import Searcher

        hits = Searcher(settings).search("planning decision and reflection agents for smartphones", k=3)
        assert hits[0].arxiv_id == "2406.01014"

        # the folder remembers its server: `digest search` finds it without --chroma-url
        url = f"http://127.0.0.1:{port}"
        assert json.loads((out / "index.json").read_text())["chroma_url"] == url
        query = "planning decision and reflection agents for smartphones"
        result = CliRunner().invoke(main, ["search", query, "-k", "3", "--json", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)[0]["arxiv_id"] == "2406.01014"
        assert f"using the Chroma server {url} recorded in {out / 'index.json'}" in result.stderr
        assert not (out / "chroma").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_unreachable_server_is_a_clear_error(tmp_path):
    from pipeline.errors import ConfigError

    settings = make_out(tmp_path, chroma_url=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(ConfigError, match="cannot reach the Chroma server"):
        index_stage(settings)


def test_index_prebuilds_the_lexical_indexes(tmp_path):
    settings = make_out(tmp_path)
    index_stage(settings)
    indexes = [p for p in (tmp_path / "bm25").iterdir() if p.is_dir()]
    assert sorted(p.name.split("-")[0] for p in indexes) == ["en", "ko"]
    stamps = {p.name: p.stat().st_mtime_ns for p in indexes}
    index_stage(settings)  # unchanged input: the same cached indexes, not rebuilt
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "bm25").iterdir() if p.is_dir()} == stamps


def test_missing_index_names_the_one_built_with_other_settings(tmp_path):
    """`digest index --embedding endpoint`, then a search with the default settings: the error
    says which index exists and how to select it, not only "run `digest index` first"."""
    from pipeline.errors import InputError
    from pipeline.retrieval.embeddings import collection_name, embedding_function

    built = make_out(tmp_path)
    index_stage(built)
    other = built.model_copy(update={"index": built.index.model_copy(update={"chunk_tokens": 100})})
    with pytest.raises(InputError) as info:
        get_collection(other, open_client(other), embedding_function(other), create=False)
    text = str(info.value)
    assert "run `digest index` first" in text
    from pipeline.retrieval.dense import CHUNKER_VERSION

    assert f"found {collection_name(built, CHUNKER_VERSION)} (embedding=endpoint)" in text
    assert "DIGEST_INDEX__EMBEDDING" in text


def test_a_moved_folder_reconciles_its_whole_collection_page_by_page(tmp_path, monkeypatch):
    """A folder copied elsewhere no longer matches the store its documents record: the
    collection is reconciled from what it holds, read a page at a time (one read of a large
    collection exceeded SQLite's variable limit), and nothing is embedded again."""
    import shutil

    from pipeline.stages.index import stage

    first = tmp_path / "first"
    first.mkdir()
    settings = make_out(first, chunk_tokens=16)  # many chunks: several pages
    index_stage(settings)
    moved = tmp_path / "moved"
    shutil.copytree(first, moved)
    (moved / ".digest.lock").unlink(missing_ok=True)
    settings = settings.model_copy(update={"out_dir": moved})
    monkeypatch.setattr(stage, "_PAGE", 3)
    reads = []
    real = stage._stored_chunks
    monkeypatch.setattr(stage, "_stored_chunks", lambda col, ids: reads.append(ids) or real(col, ids))
    report = index_stage(settings)
    assert reads == [None]  # the whole collection, as it holds it
    assert report.chunks > 3 and (report.chunks_added, report.chunks_deleted) == (0, 0)
    assert (report.added, report.updated, report.deleted, report.unchanged) == (0, 0, 0, 5)


def test_the_same_folder_named_relatively_is_indexed_incrementally(tmp_path, monkeypatch):
    """``--out outputs`` and ``--out /abs/path/outputs`` name one folder: its documents'
    record of the store matches, and only the changed documents' chunks are read back."""
    from pipeline.stages.index import stage

    settings = make_out(tmp_path)
    index_stage(settings)
    monkeypatch.chdir(tmp_path.parent)
    relative = settings.model_copy(update={"out_dir": Path(tmp_path.name)})
    reads = []
    real = stage._stored_chunks
    monkeypatch.setattr(stage, "_stored_chunks", lambda col, ids: reads.append(ids) or real(col, ids))
    report = index_stage(relative)
    assert reads == [[]]  # nothing changed: no chunk read back, not the whole collection
    assert (report.added, report.updated, report.deleted, report.unchanged) == (0, 0, 0, 5)
