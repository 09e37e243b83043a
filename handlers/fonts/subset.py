"""Regenerate the chart font: Noto Sans CJK SC cut down to the characters a mine's text needs.

    python -m handlers.fonts.subset /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc \
        handlers/fonts/NotoSansSC-Regular-GBK.otf

The source is Debian's fonts-noto-cjk collection (or upstream's NotoSansCJK-Regular.ttc);
the face named "Noto Sans CJK SC" is picked by name, not by its index. Kept: every character
of GBK (GB 2312 and the rarer characters of people's names), ASCII, and the punctuation and
symbol blocks that charts and ledgers print. Only the `locl` layout feature is kept, and in
it only the Simplified (ZHS) and Traditional (ZHT) Chinese language systems: matplotlib
applies no OpenType layout at all, and `locl` is what lets a test prove the default glyphs
are the mainland forms. Hinting is dropped: matplotlib auto-hints with FreeType instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

FACE = "Noto Sans CJK SC"
KEPT_LANGUAGES = ("ZHS ", "ZHT ")
"""locl language systems kept; Japanese, Korean and Hong Kong forms are dropped."""

BLOCKS = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1: ² ³ ° ± × ÷ · ¥ é
    (0x2000, 0x206F),  # general punctuation: — – … ‰ ‘ ’ “ ” •
    (0x2070, 0x209F),  # superscripts and subscripts
    (0x20A0, 0x20CF),  # currency: €
    (0x2100, 0x214F),  # letterlike: ℃ № ℉
    (0x2150, 0x218F),  # number forms: Ⅰ–Ⅻ ⅰ–ⅹ
    (0x2190, 0x21FF),  # arrows: → ← ↑ ↓
    (0x2200, 0x22FF),  # mathematical operators: − ≤ ≥ ≈ ≠ √
    (0x2460, 0x24FF),  # enclosed alphanumerics: ①–⑳ ⑴ ⒈
    (0x2500, 0x257F),  # box drawing
    (0x25A0, 0x25FF),  # geometric shapes: ■ □ ▲ △ ● ○ ◆
    (0x2600, 0x26FF),  # miscellaneous symbols: ★ ☆ ⚠ (where the font has them)
    (0x2700, 0x27BF),  # dingbats: ✓ ✕ ✖ (where the font has them)
    (0x3000, 0x303F),  # CJK symbols and punctuation: 、。「」【】〔〕
    (0x3200, 0x32FF),  # enclosed CJK: ㈠ ㊣
    (0x3300, 0x33FF),  # CJK compatibility: ㎡ ㎏ ㎞ ㎜
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # full-width forms: ，：（）％０-９Ａ-Ｚ
)


def gbk() -> set[int]:
    """Every code point Python's `gbk` codec encodes: GB 2312's 7,445 plus GBK's extensions."""
    kept = set()
    for code in range(0x80, 0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        try:
            chr(code).encode("gbk")
        except UnicodeEncodeError:
            continue
        kept.add(code)
    return kept


def unicodes() -> set[int]:
    """The code points asked for (the subsetter keeps those the face has)."""
    kept = gbk()
    for first, last in BLOCKS:
        kept.update(range(first, last + 1))
    return kept


def sc_face(collection: Path) -> TTFont:
    """The "Noto Sans CJK SC" face of a collection (or the file itself, if it is that face)."""
    faces: Iterable[TTFont] = (
        TTCollection(str(collection)).fonts
        if collection.suffix.lower() == ".ttc"
        else [TTFont(str(collection))]
    )
    for face in faces:
        if face["name"].getDebugName(4) == FACE:
            return face
    raise SystemExit(f"{collection}: no face named {FACE!r}")


def keep_languages(font: TTFont, tags: Sequence[str]) -> None:
    """Drop every GSUB language system not in `tags`, so their alternates are not kept."""
    for record in font["GSUB"].table.ScriptList.ScriptRecord:
        script = record.Script
        script.LangSysRecord = [r for r in script.LangSysRecord if r.LangSysTag in tags]
        script.LangSysCount = len(script.LangSysRecord)


def options() -> subset.Options:
    """Only `locl`; no hinting; every name record (copyright, licence, licence URL)."""
    chosen = subset.Options()
    chosen.layout_features = ["locl"]
    chosen.hinting = False
    chosen.desubroutinize = False
    chosen.name_IDs = ["*"]
    chosen.name_languages = ["*"]
    chosen.notdef_outline = True
    chosen.drop_tables += ["BASE", "vhea", "vmtx", "VORG"]
    return chosen


def build(source: Path, target: Path) -> Path:
    """Write the subset of `source`'s SC face to `target`; return `target`."""
    font = sc_face(source)
    keep_languages(font, KEPT_LANGUAGES)
    chosen = options()
    subsetter = subset.Subsetter(options=chosen)
    subsetter.populate(unicodes=sorted(unicodes()))
    subsetter.subset(font)
    font.recalcTimestamp = False  # keep upstream's head.modified: the same input, the same bytes
    target.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(target))
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """python -m handlers.fonts.subset SRC.ttc OUT.otf"""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", type=Path, help="NotoSansCJK-Regular.ttc (or the SC .otf)")
    parser.add_argument("target", type=Path, help="the .otf to write")
    args = parser.parse_args(argv)
    written = build(args.source, args.target)
    print(f"{written}: {written.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
