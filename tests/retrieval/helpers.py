"""The output folder the retrieval tests share: fixture entries, translations, metadata."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pipeline.settings import Settings, load_settings
from pipeline.stages.index import index_stage
from pipeline.stages.parse import parse_stage
from tests.paths import FIXTURES


def make_retrieval_out(
    tmp: Path, *, metadata: bool = True, build_index: bool = True, **index: object
) -> Settings:
    """Parse the retrieval fixture digest into ``tmp`` (mock LLM, endpoint embeddings),
    with its translations (and metadata), then index it unless ``build_index`` is False."""
    shutil.copy(FIXTURES / "retrieval_translations.jsonl", tmp / "translations.jsonl")
    if metadata:
        shutil.copy(FIXTURES / "retrieval_metadata.jsonl", tmp / "metadata.jsonl")
    settings = load_settings(
        out_dir=tmp,
        cache_dir=tmp / "cache",
        progress="off",
        llm={"provider": "mock"},
        index={"embedding": "endpoint", **index},
    )
    parse_stage(settings, [FIXTURES / "retrieval_digest.md"])
    if build_index:
        index_stage(settings)
    return settings


def change_translation(out: Path, line: int, text: str) -> None:
    """Rewrite the English of one section (line ``line`` of ``translations.jsonl``)."""
    path = out / "translations.jsonl"
    lines = path.read_text().splitlines()
    rec = json.loads(lines[line])
    rec["text"] = text
    lines[line] = json.dumps(rec)
    path.write_text("\n".join(lines) + "\n")
