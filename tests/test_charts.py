"""Charts draw every student's name as written: a font for each script, Arabic joined and
right to left, Devanagari in clusters, emoji, and no glyph left to the missing-glyph box.

The fonts come from the machine (``make fonts`` installs them on Debian and Ubuntu).
"""

from __future__ import annotations

import struct

from matplotlib import _text_helpers
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font

from bot.core.charts import chart_fonts, chart_png, missing_glyphs

#: One student's name in each script the issue names.
NAMES = {
    "Latin with accents": "Zoë Ångström-Núñez",
    "Cyrillic": "Дмитрий Иванов",
    "Greek": "Αλέξανδρος Παππάς",
    "Arabic": "محمد علي",
    "Hebrew": "דוד כהן",
    "Chinese": "王小明",
    "Japanese": "さくら 山田",
    "Korean": "김민준",
    "Devanagari": "अर्जुन शर्मा",
    "emoji": "Sam 🎉🦊",
}
INSTALL = "install the chart fonts (`make fonts`, or the packages the README lists)"


def font_of(family: str) -> FT2Font:
    font = FT2Font(findfont(FontProperties(family=family), fallback_to_default=False))
    font.set_size(12, 72)
    return font


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_every_script_has_a_font_and_no_glyph_is_a_box() -> None:
    assert missing_glyphs(NAMES.values()) == [], INSTALL
    missing: list[str] = []
    counts = {name: i + 1 for i, name in enumerate(NAMES.values())}
    png = chart_png(counts, "Replies — ответы — ردود — 回答", missing=missing)
    # matplotlib reports each glyph it had to draw as the missing-glyph box: none were.
    assert missing == [], INSTALL
    assert png_size(png)[1] > 250  # a bar per name


def test_a_name_no_listed_font_covers_finds_a_font_on_the_machine() -> None:
    # Tamil is in no family of the list: a system font that has it is added.
    families = chart_fonts(["கவிதா"])
    assert len(families) > len(chart_fonts(["Nino"])), INSTALL
    assert missing_glyphs(["கவிதா"]) == []
    assert any("Tamil" in family for family in families)


def test_arabic_is_joined_and_laid_out_right_to_left() -> None:
    name = NAMES["Arabic"].split()[0]  # محمد
    font = font_of("Noto Sans Arabic")
    isolated = [font.get_char_index(ord(c)) for c in name]
    # matplotlib's layout (what the Agg canvas draws) shapes the word with HarfBuzz.
    laid_out = list(_text_helpers.layout(name, font))
    # Right to left: the last letter is drawn leftmost.
    assert [item.char for item in laid_out] == list(reversed(name))
    # Joined: the letters take their connected forms, not the isolated ones.
    assert [item.glyph_index for item in reversed(laid_out)] != isolated
    # And the word is narrower than its letters kept apart by zero-width non-joiners.
    font.set_text(name)
    joined = font.get_width_height()[0]
    font.set_text("\u200c".join(name))
    assert joined != font.get_width_height()[0]


def test_devanagari_forms_its_clusters() -> None:
    name = "शर्मा"  # a conjunct with a reph: shaping changes the glyphs
    font = font_of("Noto Sans Devanagari")
    glyphs = [item.glyph_index for item in _text_helpers.layout(name, font)]
    assert 0 not in glyphs
    assert glyphs != [font.get_char_index(ord(c)) for c in name]
