"""The format registry: a new newsletter format is its template plus one registration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import load_settings
from pipeline.stages.newsletter import formats
from pipeline.stages.newsletter.formats import FORMATS, Format, check_formats, get_format
from pipeline.stages.newsletter.stage import newsletter_stage
from tests.paths import FIXTURES, ROOT


def test_names_and_aliases() -> None:
    assert list(FORMATS) == ["md", "html", "rss"]
    assert [f.name for f in check_formats(["Markdown", "xml", "feed", "html", "md"])] == ["md", "rss", "html"]
    with pytest.raises(ConfigError, match="unknown newsletter format 'pdf'; choose from md, html, rss"):
        get_format("pdf")
    with pytest.raises(ConfigError, match="no newsletter format chosen"):
        check_formats([])


def test_a_new_format_is_a_template_and_one_registration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("entries", "translations", "metadata"):
        shutil.copy(FIXTURES / f"newsletter_{name}.jsonl", out / f"{name}.jsonl")
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "digest.txt.j2").write_text(
        "{{ issue.title }}\n{% for p in issue.papers %}- {{ p.title }}\n{% endfor %}", encoding="utf-8"
    )
    monkeypatch.setitem(formats.FORMATS, "txt", Format("txt", "digest.txt.j2", ".txt"))
    settings = load_settings(out_dir=out, progress="off", templates_dir=templates)
    report = newsletter_stage(settings, formats=["txt"], intro=False)
    (path,) = report.paths
    assert path.suffix == ".txt" and path.read_text(encoding="utf-8").startswith(settings.newsletter.title)
