"""The applicant's methodology picker: the registration's `methodology_code` and `methodology_version`
drawn as one choice among the versions the registry lets this jurisdiction's projects cite, so a typed
"v1.0" cannot reach the draft. The server judges the choice again (rule `methodology_chosen`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from services.queries.registry import MethodologyPublic, methodologies
from services.web.schema_forms import FieldView
from states.messages import CATALOGUE, text

NAME = "methodology"  # posted as `<code>@<version>` (a version never holds "@")
CODE, VERSION = "methodology_code", "methodology_version"


def citable(session: Session, jurisdiction: str, today: date) -> list[MethodologyPublic]:
    """Filed versions of the jurisdiction, and superseded ones still within their grace period."""
    return [m for m in methodologies(session, jurisdiction=jurisdiction).items
            if m.status == "filed" or (m.grace_until is not None and today <= m.grace_until)]


def _option(m: MethodologyPublic) -> tuple[str, tuple[str, str]]:
    tier = CATALOGUE.get(f"profile_word.{m.tier}", (m.tier, m.tier)) if m.tier else ("", "")
    sep = CATALOGUE["sep.clause"] if m.tier and m.scope else ("", "")
    zh, en = text("text.methodology_option", title=m.title, code=m.code, version=m.version, tier_zh=tier[0],
                  tier_en=tier[1], scope_zh=sep[0] + (m.scope or ""), scope_en=sep[1] + (m.scope or ""))
    if m.status == "superseded":
        grace = text("text.methodology_grace", by=m.superseded_by or "-", until=str(m.grace_until))
        zh, en = zh[:-1] + grace.zh + zh[-1], en[:-1] + grace.en + en[-1]
    return f"{m.code}@{m.version}", (zh, en)


def _groups(versions: list[MethodologyPublic]) -> list[tuple[tuple[str, str], list[tuple[str, tuple[str, str]]]]]:
    """The versions by the kind of subject they quantify (a project cannot cite a scenario methodology)."""
    out = []
    for kind in ("project", "scenario"):
        options = [_option(m) for m in versions if m.kind == kind]
        if options:
            out.append((CATALOGUE[f"subject.{kind}"], options))
    return out


def picked(drawn: list[FieldView], versions: list[MethodologyPublic], lang: str) -> list[FieldView]:
    """The form's fields with code and version replaced by the picker, where the form has them; the
    reasons about either stay beside it, the value chosen stays chosen."""
    by_name = {f.name: f for f in drawn}
    if CODE not in by_name or VERSION not in by_name:
        return drawn
    code, version = by_name[CODE], by_name[VERSION]
    said = {r.code for r in code.errors}  # "required" once, not once per stored field
    errors = [*code.errors, *(r for r in version.errors if r.code not in said)]
    picker = FieldView(name=NAME, label=CATALOGUE[f"field.{NAME}"], widget="methodology",
                       required=code.required, value=f"{code.value}@{version.value}" if code.value else "",
                       groups=_groups(versions), errors=errors,
                       help=text("help.methodology").said_in(lang))
    return [picker if f is code else f for f in drawn if f is not version]


def chosen(posted: dict[str, Any]) -> dict[str, Any]:
    """The posted form with the picker's choice as the two fields the application stores."""
    if NAME not in posted:
        return posted
    out = {k: v for k, v in posted.items() if k != NAME}
    if not str(posted[NAME]).strip():
        return out  # nothing chosen: the form's own validation says it is required
    code, _, version = str(posted[NAME]).rpartition("@")
    out[CODE], out[VERSION] = (code, version) if code else (str(posted[NAME]), "")
    return out
