"""A jurisdiction's profile as tables people can read: each rule named in both languages, its value in
words, and the seed article the profile file cites beside it in a comment (read from the file itself,
so the page and the file cannot drift apart)."""

from __future__ import annotations

import tomllib
from functools import cache
from typing import Any

from states.messages import CATALOGUE, joined, label
from states.profiles import PROFILE_DIR, Profile

# The sections shown, in order; each is named by the catalogue's `profile_section.<name>`, its rules by
# `profile_rule.<key>` and values in words by `profile_word.<value>`.
SECTIONS = ("registration", "methodology", "issuance", "rectification", "revenue_audit", "operation_report", "sla",
            "clock", "panel",
            "reminders")


def _named(kind: str, key: str) -> dict[str, str]:
    """`kind.key` from the catalogue, or the key itself where the catalogue has no words for it."""
    zh, en = CATALOGUE.get(f"{kind}.{key}", (key, key))
    return {"zh": zh, "en": en}

def _split_comment(line: str) -> tuple[str, str]:
    """TOML text and its trailing comment; a '#' inside a string is not one."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i].strip(), line[i + 1:].strip()
    return line.strip(), ""


@cache
def _notes(code: str) -> tuple[str, dict[str, str], dict[str, list[str]]]:
    """The seed articles a profile file cites in its comments: the file's heading, per `section.key`, and
    per section (comment lines of their own)."""
    path = next(p for p in sorted(PROFILE_DIR.glob("*.toml"))
                if tomllib.loads(p.read_text(encoding="utf-8")).get("code") == code)
    heading = ""
    keyed: dict[str, str] = {}
    loose: dict[str, list[str]] = {}
    section = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        text, note = _split_comment(line)
        if text.startswith("["):
            section = text.strip("[]")
            if note:
                loose.setdefault(section, []).append(note)
        elif not text and note:
            if section:
                loose.setdefault(section, []).append(note)
            elif not heading:
                heading = note
        elif "=" in text and note and section:
            keyed[f"{section}.{text.split('=', 1)[0].strip()}"] = note
    return heading, keyed, loose


def _shown(section: str, key: str, value: Any) -> tuple[str, str]:
    if isinstance(value, bool):
        return CATALOGUE["profile_word.yes" if value else "profile_word.no"]
    if isinstance(value, (list, tuple)):
        if not value:
            return "—", "—"
        prefix = {"commitments": "commitment.", "paused_in": "state."}.get(key)
        names = [label(prefix + str(v)) if prefix else _named("profile_word", str(v)) for v in value]
        return joined(((n["zh"], n["en"]) for n in names), "sep.items")
    if isinstance(value, int | float):  # a count (max_rounds = 2) is a number, not the class "二类"
        return str(value), str(value)
    return CATALOGUE.get(f"profile_word.{value}", (str(value), str(value)))


def profile_sections(profile: Profile) -> tuple[str, list[dict[str, Any]]]:
    """Each section of a profile as rows (rule, value, the seed article its file cites) for a table; and
    the file's heading (which seed it follows)."""
    heading, keyed, loose = _notes(profile.code)
    data = profile.model_dump(mode="json")
    out = []
    for name in SECTIONS:
        rows = []
        for key, value in data[name].items():
            names = label(f"task.{key}") if name == "sla" else _named("profile_rule", key)
            zh, en = _shown(name, key, value)
            rows.append({"key": key, "label": names, "value": {"zh": zh, "en": en},
                         "note": keyed.get(f"{name}.{key}", "")})
        out.append({"name": name, "title": CATALOGUE[f"profile_section.{name}"], "rows": rows,
                    "notes": loose.get(name, [])})
    return heading, out
