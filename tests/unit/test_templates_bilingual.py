"""Chinese first, English by a switch, both complete: no Chinese text in a template outside a
`t("中文", "English")` pair, and every pair has both languages."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).parents[2] / "services" / "web" / "templates"
CJK = re.compile(r"[\u3400-\u9fff\uff08\uff09\u3001\u3002\uff0c\uff1a\uff1b]")
_STR = r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
_CJK_CHARS = "\u3400-\u9fff\u3001\u3002\uff08\uff09\uff0c\uff1a\uff1b"
_ZH = (r"""("(?:[^"\\]|\\.)*[""" + _CJK_CHARS + r"""](?:[^"\\]|\\.)*"|"""
       r"""'(?:[^'\\]|\\.)*[""" + _CJK_CHARS + r"""](?:[^'\\]|\\.)*')""")
_FORMAT = r"""(?:\s*(?:%|~)\s*(?:\([^()]*\)|[\w.\-|]+))?"""
# a Chinese string literal followed by its English one, in a t(…) call, a tuple or a macro's arguments,
# each maybe formatted with `%`
PAIR = re.compile(_ZH + _FORMAT + r"\s*,\s*" + _STR + _FORMAT, re.S)
COMMENT = re.compile(r"\{#.*?#\}", re.S)
# text meant to be read in both languages at once (a language's own name in the switcher)
BOTH = ("中文",)


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def test_there_are_templates() -> None:
    assert len(_templates()) > 10


def test_no_chinese_outside_a_language_pair() -> None:
    stray = []
    for path in _templates():
        text = PAIR.sub(lambda m: "" if CJK.search(m.group(1)) and not CJK.search(m.group(2)) else m.group(0),
                        COMMENT.sub("", path.read_text(encoding="utf-8")))
        for word in BOTH:
            text = text.replace(word, "")
        for n, line in enumerate(text.splitlines(), 1):
            if CJK.search(line):
                stray.append(f"{path.relative_to(TEMPLATES)}:{n}: {line.strip()[:80]}")
    assert stray == []


def test_every_pair_has_both_languages() -> None:
    empty = []
    for path in _templates():
        for zh, en in PAIR.findall(path.read_text(encoding="utf-8")):
            if not CJK.search(zh):
                continue  # two English or technical strings side by side
            if len(zh) <= 2 or len(en) <= 2:
                empty.append(f"{path.relative_to(TEMPLATES)}: t({zh}, {en})")
            elif CJK.search(en):
                empty.append(f"{path.relative_to(TEMPLATES)}: English side holds Chinese: {en}")
    assert empty == []
