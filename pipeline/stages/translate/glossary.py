"""The translate stage's glossary: ``OUT/glossary.tsv`` seeded from the digests (or a file of
the user's, used as is), and ``digest glossary``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ...errors import InputError
from ...records import Entry
from ...settings import Settings
from ...store.layout import OutDir
from ...store.lock import output_lock
from ...text.glossary import Glossary, GlossaryUpdate, load_glossary, mine_glossary, seed_glossary
from ...text.terms import mine_term_pairs

log = logging.getLogger(__name__)


def glossary_for(
    settings: Settings,
    entries: list[Entry],
    *,
    write: bool,
    pairs: Callable[[str], list[tuple[str, str]]] = mine_term_pairs,
) -> tuple[Glossary, int]:
    """The glossary for a translate run (seeded from the digests unless it is the user's
    own file); ``pairs``: how to mine a text's term pairs (``plan.PlanMemo.pairs``)."""
    default_path = OutDir(settings.out_dir).glossary_path
    path = Path(settings.translate.glossary_file or default_path)
    default = path == default_path
    if not default:
        if not path.exists():
            raise InputError(f"glossary file not found: {path}")
        return load_glossary(path), 0
    texts = [s.text for e in entries for s in e.sections]
    if write:
        upd = seed_glossary(path, texts, pairs=pairs)
        if upd.added:
            log.info("%s", upd.summary())
        return upd.glossary, len(upd.added)
    g = load_glossary(path)
    new = {
        k: v
        for k, v in mine_glossary(texts, pairs=pairs).items()
        if k not in g.entries and k not in g.disabled
    }
    g.entries.update(new)
    return g, len(new)


def glossary_stage(settings: Settings, *, rebuild: bool = False) -> GlossaryUpdate:
    """``digest glossary``: the glossary, created from the parsed digests when missing;
    ``rebuild`` mines them again and appends the terms the file does not know yet."""
    path = Path(settings.translate.glossary_file or OutDir(settings.out_dir).glossary_path)
    if path.exists() and not rebuild:
        return GlossaryUpdate(load_glossary(path), [], path)
    entries = OutDir(settings.out_dir).load_entries()
    with output_lock(settings.out_dir):
        return seed_glossary(path, [s.text for e in entries for s in e.sections])
