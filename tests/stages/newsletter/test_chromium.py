"""The HTML newsletter as a browser renders it (headless Debian chromium).

Checks the rendered DOM (titles present as text, no <script> element from the data,
nothing loaded from elsewhere) and takes light / dark / narrow screenshots, whose
pixels must differ in the expected way.  The PNGs are kept in the test's tmp folder.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.settings import load_settings
from pipeline.stages.newsletter.stage import newsletter_stage
from tests.paths import FIXTURES, ROOT

CHROMIUM = Path("/usr/bin/chromium")
EVIL = '<script>alert(1)</script> Tom & "Jerry" *bold* [link](x) _under_ #1 `code`'

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"),
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    fixtures = FIXTURES
    out = tmp_path_factory.mktemp("chromium") / "out"
    out.mkdir()
    for name in ("entries", "translations", "metadata"):
        shutil.copy(fixtures / f"newsletter_{name}.jsonl", out / f"{name}.jsonl")
    settings = load_settings(out_dir=out, progress="off")
    report = newsletter_stage(settings, date=date(2024, 10, 21), formats=["html"], intro=False)
    (path,) = report.paths
    return path


class Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.titles: list[str] = []
        self._in: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "h4":
            self._in = ""

    def handle_endtag(self, tag):
        if tag == "h4" and self._in is not None:
            self.titles.append(self._in)
            self._in = None

    def handle_data(self, data):
        self.text.append(data)
        if self._in is not None:
            self._in += data


def test_rendered_dom_shows_titles_as_text(page: Path, tmp_path: Path) -> None:
    result = chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = Dom()
    dom.feed(result.stdout)
    assert "script" not in dom.tags  # the page has none, and none came from the data
    assert "img" not in dom.tags and "iframe" not in dom.tags
    assert dom.titles[0] == EVIL  # first topic (Language models), rendered as literal text
    assert "Movie Gen: A Cast of Media Foundation Models" in dom.titles
    assert len(dom.titles) == 6
    text = "".join(dom.text)
    assert "Ada <b>Lovelace</b>, Alan Turing" in text
    assert "Translation pending" in text and "Metadata pending" in text


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what chromium writes) into rows of pixel bytes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[i] for i in range(len(r)) if i % channels < 3) for r in rows]


def brightness(rows: list[bytes], x: int, y: int) -> float:
    r, g, b = rows[y][3 * x : 3 * x + 3]
    return (r + g + b) / 3


def test_screenshots_light_dark_and_narrow(page: Path, tmp_path: Path) -> None:
    shots = {}
    for name, flags in {
        "light": ["--blink-settings=preferredColorScheme=1", "--window-size=900,1400"],
        "dark": ["--force-dark-mode", "--blink-settings=preferredColorScheme=0", "--window-size=900,1400"],
        "narrow": ["--blink-settings=preferredColorScheme=1", "--window-size=390,1400"],
    }.items():
        png = tmp_path / f"newsletter-{name}.png"
        chromium(tmp_path, f"--screenshot={png}", *flags, page.as_uri())
        shots[name] = read_png(png)

    w, h, light = shots["light"]
    _, _, dark = shots["dark"]
    assert (w, h) == (900, 1400)
    # page background (outside the 680px column) and card background (inside it)
    assert brightness(light, 5, 5) > 230 and brightness(light, w // 2, 60) > 240
    assert brightness(dark, 5, 5) < 40 and brightness(dark, w // 2, 60) < 50
    # there is text on the card in both schemes: some pixels contrast strongly with the card
    card_light = [brightness(light, x, y) for y in range(40, 400, 3) for x in range(120, 780, 3)]
    card_dark = [brightness(dark, x, y) for y in range(40, 400, 3) for x in range(120, 780, 3)]
    assert min(card_light) < 90 and max(card_dark) > 170

    nw, _, narrow = shots["narrow"]
    assert nw == 390
    # responsive: the card fills the narrow screen (no 680px column overflowing to the right)
    right_edge = [brightness(narrow, nw - 3, y) for y in range(100, 600, 10)]
    assert min(right_edge) > 200  # page background, not clipped text
    text_cols = {x for y in range(100, 600, 4) for x in range(0, nw) if brightness(narrow, x, y) < 120}
    assert text_cols and max(text_cols) < nw - 8


def _korean_font_installed() -> bool:
    if shutil.which("fc-list") is None:
        return False
    listed = subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True, check=False).stdout
    return bool(listed.strip())


def _page_with_title(tmp: Path, title: str) -> Path:
    """The newsletter page with its top paper (Movie Gen) retitled."""
    import json

    out = tmp / f"out-{len(list(tmp.glob('out-*')))}"
    out.mkdir()
    for name in ("translations", "metadata"):
        shutil.copy(FIXTURES / f"newsletter_{name}.jsonl", out / f"{name}.jsonl")
    lines = (FIXTURES / "newsletter_entries.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    for e in entries:
        if e["id"] == "2410.13720":
            e["title"] = title
    (out / "entries.jsonl").write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries), encoding="utf-8"
    )
    settings = load_settings(out_dir=out, progress="off")
    (path,) = newsletter_stage(settings, date=date(2024, 10, 21), formats=["html"], intro=False).paths
    return path


@pytest.mark.skipif(
    not _korean_font_installed(), reason="needs a Korean font: apt-get install fonts-noto-cjk"
)
def test_korean_titles_render_as_glyphs_not_boxes(tmp_path: Path) -> None:
    """A missing glyph renders as the same box whatever the character: two different Korean
    titles would give identical screenshots.  Real glyphs differ from each other and from
    the boxes of characters no font has (private-use code points)."""
    titles = {
        "korean": "한국어 논문 제목 렌더링 시험",
        "korean2": "영어권 학습 자료 편향성 분석",  # same length, other syllables
        "tofu": "\ue000\ue001\ue002 \ue003\ue004 \ue005\ue006 \ue007\ue008\ue009 \ue00a\ue00b",
        "tofu2": "\ue010\ue011\ue012 \ue013\ue014 \ue015\ue016 \ue017\ue018\ue019 \ue01a\ue01b",
    }
    shots = {}
    for name, title in titles.items():
        assert len(title) == len(titles["korean"])
        page = _page_with_title(tmp_path, title)
        assert "Noto Sans CJK KR" in page.read_text(encoding="utf-8")  # the page names CJK fallbacks
        png = tmp_path / f"title-{name}.png"
        chromium(
            tmp_path,
            f"--screenshot={png}",
            "--blink-settings=preferredColorScheme=1",
            "--window-size=900,900",
            page.as_uri(),
        )
        shots[name] = read_png(png)[2][:600]  # the top of the page: header and "Top papers"

    def same(a: str, b: str) -> bool:
        return shots[a] == shots[b]

    assert same("tofu", "tofu2"), "the premise: missing glyphs all look alike"
    assert not same("korean", "tofu"), "the Korean title renders as boxes"
    assert not same("korean", "korean2"), "two Korean titles render alike: boxes, not glyphs"
    differing = [y for y, (a, b) in enumerate(zip(shots["korean"], shots["korean2"], strict=True)) if a != b]
    assert len(differing) >= 8 and max(differing) - min(differing) < 40  # one line of text: the title


# -- the sample issue, as a new user first sees it (and docs/newsletter.png) ------------------

SCREENSHOT = ROOT / "docs" / "newsletter.png"


def test_sample_issue_renders_and_screenshot(
    seeds_run_without_index: tuple[Path, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The 21 October 2024 issue of ``digest run --llm mock seeds/``: real English in the
    browser; ``--update-screenshot`` writes the README's docs/newsletter.png from it."""
    out, _ = seeds_run_without_index
    page = out / "newsletter" / "digest-2024-10-21.html"
    dom = Dom()
    dom.feed(chromium(tmp_path, "--dump-dom", page.as_uri()).stdout)
    text = " ".join("".join(dom.text).split())
    assert "Movie Gen: A Cast of Media Foundation Models" in dom.titles and len(dom.titles) == 50
    assert "Movie Gen presents a set of media foundation models" in text  # the intro, from TL;DRs
    assert "TL;DR:" in text and "accuracy: 57.43% (Skywork" in text  # a key result, from the English
    assert "is presented, with results reported for" not in text

    png = tmp_path / "newsletter.png"
    chromium(
        tmp_path,
        f"--screenshot={png}",
        "--blink-settings=preferredColorScheme=1",
        "--window-size=900,1500",
        page.as_uri(),
    )
    w, h, rows = read_png(png)
    assert (w, h) == (900, 1500)
    card = [brightness(rows, x, y) for y in range(40, 1400, 7) for x in range(120, 780, 5)]
    assert min(card) < 90 and sum(b < 128 for b in card) > 500  # plenty of text on the card
    if request.config.getoption("--update-screenshot"):
        SCREENSHOT.write_bytes(png.read_bytes())
    assert SCREENSHOT.is_file(), "docs/newsletter.png is missing: run pytest with --update-screenshot"
    sw, sh, _ = read_png(SCREENSHOT)
    assert (sw, sh) == (900, 1500)
