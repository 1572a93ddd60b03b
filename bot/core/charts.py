"""Bar charts of participation, with every student's name drawn as written.

Pure: no discord.py, no SQLAlchemy. matplotlib's Agg canvas draws the PNG; matplotlib lays
text out with libraqm (HarfBuzz and FriBiDi), so Arabic joins and reads right to left and
Devanagari forms its clusters, once a font has the glyphs. Fonts are picked character by
character along :data:`CHART_FONTS` (the ones installed), and for a character none of them
has, from any font on the machine that has it. The README lists the Debian packages that
bring the fonts; a glyph still missing is reported to the caller, never drawn silently as a
box.
"""

from __future__ import annotations

import contextlib
import functools
import io
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from bot.core.render import one_line

CHART_NAME_WIDTH = 24
#: The families tried first, in order: Latin, Greek and Cyrillic; then scripts many students'
#: names are written in; emoji last (monochrome: Agg cannot draw colour emoji fonts).
CHART_FONTS: tuple[str, ...] = (
    "DejaVu Sans", "Noto Sans", "Noto Sans Arabic", "Noto Sans Hebrew", "Noto Sans Devanagari",
    "Noto Sans Bengali", "Noto Sans Thai", "Noto Sans CJK JP", "Noto Sans Symbols 2",
    "Symbola", "Noto Emoji",
)
#: Fonts that "cover" every character with a placeholder: never a real glyph.
_PLACEHOLDERS = ("Last Resort",)
#: Characters no font needs to draw: spaces, joiners and variation selectors.
_UNDRAWN = {"Zs", "Cc", "Cf", "Mn", "Me"}


class Bar(Protocol):
    """One bar of a chart: a name and a count."""

    @property
    def display_name(self) -> str: ...
    @property
    def replies(self) -> int: ...


@functools.cache
def _installed() -> dict[str, str]:
    """Each installed font family with the file of its regular face (system fonts included,
    even those installed after matplotlib cached its list)."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    known = {entry.fname for entry in manager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            with contextlib.suppress(Exception):  # a font file FreeType cannot read
                manager.addfont(path)
    regular: dict[str, str] = {}
    # Noto Sans families first (a uniform look), then the others, each in name order.
    for entry in sorted(manager.ttflist, key=lambda e: (not e.name.startswith("Noto Sans"),
                                                        e.name, e.fname)):
        if (entry.style == "normal" and entry.weight in (400, "normal", "regular", "book")
                and not entry.name.startswith(_PLACEHOLDERS)):
            regular.setdefault(entry.name, entry.fname)
    return regular


@functools.cache
def _charmap(path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(path).get_charmap())
    except Exception:  # an unreadable font covers nothing
        return frozenset()


def _drawn(texts: Iterable[str]) -> set[int]:
    return {ord(c) for text in texts for c in text if unicodedata.category(c) not in _UNDRAWN}


def chart_fonts(texts: Iterable[str]) -> list[str]:
    """The font families that draw ``texts``: :data:`CHART_FONTS` that are installed, then
    any installed family with a character none of those has."""
    installed = _installed()
    families = [f for f in CHART_FONTS if f in installed]
    covered: set[int] = set()
    for family in families:
        covered |= _charmap(installed[family])
    for code in sorted(_drawn(texts) - covered):
        if code in covered:
            continue
        for family, path in installed.items():
            if family not in families and code in _charmap(path):
                families.append(family)
                covered |= _charmap(path)
                break
    return families or ["DejaVu Sans"]


def missing_glyphs(texts: Iterable[str]) -> list[str]:
    """The characters of ``texts`` that no font of :func:`chart_fonts` can draw."""
    wanted = list(texts)
    installed = _installed()
    covered: set[int] = set()
    for family in chart_fonts(wanted):
        if family in installed:
            covered |= _charmap(installed[family])
    return [chr(code) for code in sorted(_drawn(wanted) - covered)]


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def chart_png(
    data: Sequence[Bar] | Mapping[str, int],
    title: str,
    *,
    max_bars: int = 80,
    value_label: str = "replies",
    missing: list[str] | None = None,
) -> bytes:
    """A PNG bar chart of replies per student (summaries) or per label (a mapping).

    Horizontal bars in the given order, top to bottom, names cut to 24 characters; the image
    grows with the number of bars, and past ``max_bars`` only the first ones are drawn (the
    title says so). Drawn with matplotlib's Agg canvas: no display, no global pyplot state.
    Characters no installed font has are appended to ``missing`` (they are drawn as boxes).
    """
    # Imported here: matplotlib takes a while to import and only this function needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    if isinstance(data, Mapping):
        pairs = [(str(k), int(v)) for k, v in data.items()]
    else:
        pairs = [(s.display_name, s.replies) for s in data]
    total = len(pairs)
    pairs = pairs[:max_bars]
    if total > len(pairs):
        title = f"{title} (first {len(pairs)} of {total})"
    # '$' starts matplotlib math text; escaped so a nickname is drawn as written.
    labels = [_truncate(one_line(name), CHART_NAME_WIDTH).replace("$", r"\$") or "?"
              for name, _ in pairs]
    values = [v for _, v in pairs]
    heading = one_line(title).replace("$", r"\$")
    fonts = chart_fonts([*labels, heading])

    fig = Figure(figsize=(8, max(2.5, 1.2 + 0.3 * len(pairs))), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if pairs:
        positions = list(range(len(pairs)))
        bars = ax.barh(positions, values, color="#5865F2")
        ax.set_yticks(positions, labels, fontfamily=fonts)
        ax.invert_yaxis()
        ax.bar_label(bars, padding=3)
        ax.set_xlim(0, max(max(values), 1) * 1.15)
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, f"No {value_label} yet", ha="center", va="center",
                transform=ax.transAxes)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(value_label.capitalize())
    ax.set_title(heading, fontfamily=fonts)
    ax.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.tight_layout()
        fig.savefig(buffer, format="png")
    if missing is not None:
        missing.extend(str(w.message) for w in caught if "missing from" in str(w.message))
    return buffer.getvalue()
