"""pyproject.toml finds every subpackage (none is listed by hand), and the project-root
folders the settings point at exist."""

from __future__ import annotations

import tomllib

from setuptools import find_packages

from pipeline.settings import PROJECT_ROOT, load_settings
from tests.paths import ROOT


def test_every_subpackage_is_packaged() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert isinstance(config["packages"], dict)  # found, not a hand-made list to forget a package in
    found = set(find_packages(where=str(ROOT), **config["packages"]["find"]))
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "pipeline").rglob("__init__.py")}
    assert found == on_disk and {"pipeline.stages.parse.readers", "pipeline.llm.mock"} <= found


def test_prompts_and_templates_are_found_at_the_project_root() -> None:
    settings = load_settings(None)
    assert PROJECT_ROOT == ROOT
    assert (settings.prompts_dir / "translate.md").is_file()
    assert (settings.templates_dir / "newsletter.html.j2").is_file()
