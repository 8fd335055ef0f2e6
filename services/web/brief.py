"""The decision brief of the case page: what is being decided and the material for it, in words.

Everything here reads what the case already holds (its application, documents, audit trail, panel,
objections) and says it as people say it: fields by their labels, codes by their names in both
languages, people by their display names, the timeline as sentences. Nothing here changes a case.

Pairs `(zh, en)` are returned for every word, so the template picks the page's language with `t(*pair)`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from services.engine.actors import Actor
from services.engine.clock import clock
from services.queries.scenario_issuance import scenario_issuance
from services.store.tables import (
    AuditEvent,
    Case,
    MethodologyVersion,
    Objection,
    PanelMember,
    Task,
    User,
    pk,
)
from services.web.schema_forms import choice_label, field_label
from states import divisions
from states.messages import CATALOGUE, joined, label, text

Pair = tuple[str, str]

# Which section of the brief each action's form sits beside (the rest go to "other").
SECTION_OF = {
    "accept": "completeness", "request_supplement": "completeness", "disclose": "completeness",
    "pass_review": "review", "fail_review": "review",
    "compose_panel": "panel",
    "approve": "decision", "reject": "decision",
    "dismiss_objections": "objections", "uphold_objection": "objections",
}
COMPLETENESS_EVENTS = ("accept", "request_supplement", "disclose")
REVIEW_EVENTS = ("pass_review", "fail_review")
CONCLUSIONS = ("panel_pass", "panel_revise", "panel_reject")
DECISIONS = ("approve", "reject")
POSITIVE = ("agree", "agree_with_changes")
# Payload keys that are bookkeeping, not something a person said.
QUIET_KEYS = {"task_id", "awaiting_joint_review", "hash", "tasks", "open_work", "candidates", "seed", "kind"}
# Values of these application fields are codes: said by their names.
CODED = {"kind": "choice", "project_class": "choice", "tier": "profile_word", "opinion": "choice",
         "outcome": "choice", "disposition": "choice", "severity": "choice", "category": "choice",
         "purpose": "choice"}


def _pair(key: str, fallback: str) -> Pair:
    return CATALOGUE.get(key, (fallback, fallback))


def coded(field: str, value: Any) -> Pair:
    """A value in words: a code by its label, a yes/no as such, a list joined, anything else as written."""
    if isinstance(value, bool):
        return CATALOGUE["profile_word.yes" if value else "profile_word.no"]
    if isinstance(value, list):
        parts = [coded(field, v) for v in value]
        said = joined(parts, "sep.items")
        return said.zh, said.en
    if isinstance(value, dict) and "division" in value:
        return location_words(value)
    if isinstance(value, dict):
        parts = [_commitment_or_field(k, v) for k, v in value.items()]
        said = joined(parts, "sep.items")
        return said.zh, said.en
    raw = "" if value is None else str(value)
    kind = CODED.get(field)
    if kind == "choice":
        return choice_label(raw) or _pair(f"profile_word.{raw}", raw)
    if kind == "profile_word":
        return _pair(f"profile_word.{raw}", raw)
    return raw, raw


def location_words(value: dict[str, Any]) -> Pair:
    """A structured location (Jiaxing art. 12): the division by its name with its GB/T 2260 code, then the
    street address as the applicant wrote it."""
    code = str(value.get("division") or "")
    zh, en = divisions.names(code) if divisions.get(code) else (code, code)
    named = text("text.division_option", zh=zh, en=en, code=code)
    address = str(value.get("address") or "")
    return (f"{named.zh} {address}".strip(), f"{named.en} {address}".strip())


def _commitment_or_field(key: str, value: Any) -> Pair:
    if f"commitment.{key}" in CATALOGUE:
        zh, en = CATALOGUE[f"commitment.{key}"]
        mark = "✔ " if value else "✘ "
        return mark + zh, mark + en
    name, said = field_label(key), coded(key, value)
    pair = text("brief.pair", label_zh=name[0], value_zh=said[0], label_en=name[1], value_en=said[1])
    return pair.zh, pair.en


def application_rows(session: Session, case: Case) -> list[dict[str, Any]]:
    """The application in labelled fields; the methodology named with its title from the registry;
    empty fields left out."""
    app = dict(case.application or {})
    if case.procedure == "scenario_issuance":
        app.pop("report", None)  # drawn whole in its own section (scenario_view)
    rows: list[dict[str, Any]] = []
    code, version = app.pop("methodology_code", None), app.pop("methodology_version", None)
    for key, value in app.items():
        if isinstance(value, dict):  # a recorded form: only what was filled in
            value = {k: v for k, v in value.items() if v not in (None, "", [], {})}
        if value in (None, "", [], {}):
            continue
        rows.append({"key": key, "label": field_label(key), "value": coded(key, value)})
    if code:
        filed = session.exec(select(MethodologyVersion).where(
            MethodologyVersion.jurisdiction == case.jurisdiction, MethodologyVersion.code == code,
            MethodologyVersion.version == (version or ""))).first()
        named = text("brief.methodology" if filed else "brief.methodology_unfiled", code=code,
                     version=version or "—", title=filed.title if filed else "")
        rows.insert(min(2, len(rows)), {"key": "methodology", "label": CATALOGUE["brief.methodology_label"],
                                        "value": (named.zh, named.en)})
    return rows


def names_of(session: Session, ids: set[int]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {pk(u): u.display_name for u in session.exec(select(User).where(col(User.id).in_(ids)))}


def _form(e: AuditEvent) -> dict[str, Any]:
    return dict((e.payload or {}).get("form") or {})


def _said(e: AuditEvent, names: dict[int, str]) -> dict[str, Any]:
    """Who did what when: the common part of every result shown in the brief."""
    return {"at": e.at, "event": e.event, "label": label(f"trigger.{e.event}"), "role": e.actor_role,
            "role_label": label(f"role.{e.actor_role}") if f"role.{e.actor_role}" in CATALOGUE else None,
            "by": names.get(e.actor_id or 0, ""), "form": _form(e)}


def _document_by_sha(documents: list[dict[str, Any]], sha: str | None) -> dict[str, Any] | None:
    return next((d for d in documents if sha and d["sha256"] == sha), None)


def _side_positive(concluded: AuditEvent | None, given: list[str]) -> bool:
    """The side a dissent is measured against: the conclusion's, else the majority of opinions given."""
    if concluded is not None:
        return concluded.event != "panel_reject"
    if given:
        return sum(o in POSITIVE for o in given) * 2 >= len(given)
    return True


def _seat(m: PanelMember, names: dict[int, str], side_positive: bool) -> dict[str, Any]:
    dissent = m.opinion is not None and (m.opinion in POSITIVE) != side_positive and m.status == "active"
    return {"user_id": m.user_id, "name": names.get(m.user_id, ""), "chair": m.chair, "status": m.status,
            "drawn": m.drawn, "opinion": m.opinion, "opinion_label": choice_label(m.opinion) if m.opinion else None,
            "score": m.score, "comments": m.comments or "", "at": m.opinion_at,
            "declined_reason": m.declined_reason or "", "dissent": dissent}


def _conclusion(concluded: AuditEvent | None, names: dict[int, str]) -> dict[str, Any] | None:
    if concluded is None:
        return None
    form = _form(concluded)
    return {**_said(concluded, names), "text": form.get("conclusion", ""), "dissent": form.get("dissent", "")}


def panel_view(session: Session, case: Case, events: list[AuditEvent], names: dict[int, str]) -> dict[str, Any]:
    """The seats with each expert's opinion and score, who dissents, and the chair's conclusion.

    Dissent: an opinion on the other side of the conclusion (a disagree under a pass or a revision, an
    agree under a rejection); before the conclusion, an opinion against the majority of those given."""
    members = list(session.exec(select(PanelMember).where(col(PanelMember.case_id) == case.id)
                                .order_by(col(PanelMember.id))))
    concluded = next((e for e in reversed(events) if e.event in CONCLUSIONS), None)
    # a revision sends the case back to the same panel, whose opinions are cleared: the conclusion shown
    # is the latest one only while no opinion has been given since it
    given = [m.opinion for m in members if m.status == "active" and m.opinion]
    side_positive = _side_positive(concluded, given)
    seats = [_seat(m, names, side_positive) for m in members]
    active = [s for s in seats if s["status"] == "active"]
    scores = [s["score"] for s in active if s["score"] is not None]
    return {"seats": seats, "given": len(given), "active": len(active), "conclusion": _conclusion(concluded, names),
            "mean_score": round(sum(scores) / len(scores), 1) if scores else None,
            "counts": Counter(s["opinion"] for s in active if s["opinion"]),
            "dissenters": sum(bool(s["dissent"]) for s in active)}


def objection_handler(session: Session, case: Case) -> int | None:
    """The officer handling the case's objections: whoever holds its objection review (open, else the
    latest)."""
    task = session.exec(select(Task).where(col(Task.case_id) == case.id, col(Task.kind) == "objection_review")
                        .order_by(col(Task.status) != "open", col(Task.id).desc())).first()
    return task.assignee_id if task is not None else None


def objections(session: Session, case: Case, actor: Actor) -> dict[str, Any]:
    rows = list(session.exec(select(Objection).where(col(Objection.case_id) == case.id).order_by(col(Objection.id))))
    handler = objection_handler(session, case)
    sees_objector = handler is not None and handler == actor.user_id
    return {"items": [{"receipt": o.receipt, "text": o.text, "received_at": o.received_at, "status": o.status,
                       "status_label": label(f"objection_status.{o.status}"), "decided_at": o.decided_at,
                       "name": o.name if sees_objector else None, "contact": o.contact if sees_objector else None}
                      for o in rows],
            "open": sum(o.status == "open" for o in rows), "handler": handler,
            "handler_name": names_of(session, {handler} if handler else set()).get(handler or 0, ""),
            "sees_objector": sees_objector}


def state_label(case: Case, open_objections: int) -> Pair:
    """The state's name; publicity with an objection not yet settled says so."""
    zh, en = _pair(f"state.{case.state}", case.state)
    if case.state in ("publicity", "objection_review") and open_objections:
        said = text("brief.state_with_objection", state_zh=zh, state_en=en, n=open_objections)
        return said.zh, said.en
    return zh, en


def _human_duration(seconds: float) -> Pair:
    if seconds < 3600:
        said = text("brief.minutes", n=max(1, int(seconds // 60)))
    elif seconds < 86400:
        said = text("brief.hours", n=int(seconds // 3600))
    else:
        said = text("brief.days", n=round(seconds / 86400, 1))
    return said.zh, said.en


def stages(events: list[AuditEvent], current: str, now: datetime | None = None) -> dict[str, Pair]:
    """The time spent in each state the case has been in (summed over visits), by state name."""
    now = now or clock.now()
    entered: list[tuple[str, datetime]] = []
    for e in events:
        if e.to_state and (not entered or entered[-1][0] != e.to_state):
            entered.append((e.to_state, e.at))
    spent: dict[str, float] = {}
    for i, (state, at) in enumerate(entered):
        until = entered[i + 1][1] if i + 1 < len(entered) else now
        spent[state] = spent.get(state, 0.0) + max(0.0, (until - at).total_seconds())
    return {state: _human_duration(seconds) for state, seconds in spent.items()}


EMPTY: tuple[Any, ...] = (None, "", [], {})
# what an upload records beside its name: said by the document itself, not in the sentence
DOCUMENT_BOOKKEEPING = ("document", "sha256", "document_id", "content_type", "size")


def _person(user_id: int, names: dict[int, str]) -> Pair:
    return (names.get(user_id, f"#{user_id}"),) * 2


def _people(user_ids: list[int], names: dict[int, str]) -> Pair:
    said = joined((_person(v, names) for v in user_ids), "sep.list")
    return said.zh, said.en


def _form_part(key: str, value: Any, names: dict[int, str]) -> tuple[Pair, Pair] | None:
    """One field of the form the actor sent, by its label; people by their names."""
    if value in EMPTY or key == "commitments":
        return None
    if key in ("members", "officers") and isinstance(value, list):
        return field_label(f"{key}_named" if f"field.{key}_named" in CATALOGUE else key), _people(value, names)
    if key == "chair" and isinstance(value, int):
        return CATALOGUE["brief.chair"], _person(value, names)
    if key == "report_sha256":
        return CATALOGUE["brief.report"], (value[:12] + "…",) * 2
    return field_label(key), coded(key, value)


def _payload_part(key: str, value: Any, names: dict[int, str]) -> tuple[Pair, Pair] | None:
    """One thing the engine recorded beside the form: a person, the experts drawn, a document's name."""
    if key in QUIET_KEYS or value in EMPTY or key == "application" or key in DOCUMENT_BOOKKEEPING:
        return None
    if key in ("to_user", "declined", "replacement", "chair") and isinstance(value, int):
        return CATALOGUE.get(f"brief.{key}", (key, key)), _person(value, names)
    if key == "chosen" and isinstance(value, list):
        return CATALOGUE["brief.chosen"], _people(value, names)
    if key == "draw" and isinstance(value, dict):
        return CATALOGUE["brief.chosen"], _people(value.get("chosen", []), names)
    if key == "name":
        return CATALOGUE["brief.document_name"], (str(value),) * 2
    if key == "visibility":
        return CATALOGUE["brief.visibility"], _pair(f"visibility.{value}", str(value))
    if key == "conflict":
        return field_label(key), coded(key, bool(value))
    if isinstance(value, (str, int, float, bool)):
        return field_label(key), coded(key, value)
    return None


def sentence_parts(e: AuditEvent, names: dict[int, str]) -> list[tuple[Pair, Pair]]:
    """What an event's payload says, as (label, value) pairs in words: the form's fields by their labels,
    people by their names; bookkeeping (task ids, hashes, draw seeds) left out."""
    payload = dict(e.payload or {})
    form = payload.pop("form", None)
    parts = [_form_part(k, v, names) for k, v in form.items()] if isinstance(form, dict) else []
    parts += [_payload_part(k, v, names) for k, v in payload.items()]
    return [part for part in parts if part is not None]


def people_ids(events: list[AuditEvent]) -> set[int]:
    """Everyone an event names (its actor, a delegate, the panel's members), to look their names up once."""
    ids: set[int] = set()
    for e in events:
        if e.actor_id:
            ids.add(e.actor_id)
        payload = e.payload or {}
        form = payload.get("form") or {}
        for value in (*[payload.get(k) for k in ("to_user", "declined", "replacement", "chair")],
                      form.get("chair") if isinstance(form, dict) else None):
            if isinstance(value, int):
                ids.add(value)
        for key in ("members", "officers"):
            if isinstance(form, dict) and isinstance(form.get(key), list):
                ids.update(v for v in form[key] if isinstance(v, int))
        draw = payload.get("draw")
        if isinstance(draw, dict):
            ids.update(v for v in draw.get("chosen", []) if isinstance(v, int))
        if isinstance(payload.get("chosen"), list):
            ids.update(v for v in payload["chosen"] if isinstance(v, int))
    return ids


def scenario_view(session: Session, case: Case) -> dict[str, Any] | None:
    """A scenario issuance case's verification report (Ordos art. 15: verified digitally), the minting and
    allocation under way once approved, and then the block, the users, the Merkle root and the ledger entry."""
    found = scenario_issuance(session, case)
    return None if found is None else found.model_dump()


def brief(session: Session, case: Case, actor: Actor, events: list[AuditEvent],
          documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The decision brief: the application, the completeness result, the review opinions (with the report
    they attach), the panel, the authority's decision, the objections; events are the visible ones."""
    names = names_of(session, people_ids(events))
    completeness = [_said(e, names) for e in events if e.event in COMPLETENESS_EVENTS]
    reviews = []
    for e in events:
        if e.event in REVIEW_EVENTS:
            said = _said(e, names)
            sha = said["form"].get("report_sha256")
            said["report"] = _document_by_sha(documents, sha)
            said["report_sha256"] = sha
            reviews.append(said)
    decisions = [_said(e, names) for e in events if e.event in DECISIONS]
    objection_view = objections(session, case, actor)
    return {"application": application_rows(session, case), "completeness": completeness, "reviews": reviews,
            "panel": panel_view(session, case, events, names), "decisions": decisions,
            "objections": objection_view, "state_label": state_label(case, objection_view["open"]),
            "scenario": scenario_view(session, case),
            "names": names}

