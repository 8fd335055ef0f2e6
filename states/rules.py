"""Rules (guards) as pure functions: each returns every reason it fails, never only the first."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from fractions import Fraction
from math import ceil
from typing import Any, TypeVar

from pydantic import BaseModel

from forms.issuance import MonitoringReport
from forms.methodology import CommentAnswer
from forms.registration import PanelComposition
from forms.scenarios import VerifierChoice
from forms.supervision import RevenueAuditReport
from states import disqualification, divisions, double_claim
from states.messages import CATALOGUE, Reason, joined, label, reason
from states.spec import RuleInput

F = TypeVar("F", bound=BaseModel)


def _app(inp: RuleInput) -> dict[str, Any]:
    return dict(inp.case.application)


def _form(inp: RuleInput, kind: type[F]) -> F:
    """The arrow's form as the class the rule reads: a rule wired to an arrow that declares another form
    fails here, naming both, instead of reading an attribute that is not there."""
    if not isinstance(inp.form, kind):
        raise TypeError(f"rule reads a {kind.__name__}, the arrow gave a {type(inp.form).__name__}")
    return inp.form


# --- submission ---------------------------------------------------------------------------


def _commitments_missing(required: tuple[str, ...], given: Mapping[str, Any]) -> list[Reason]:
    out = []
    for key in required:
        if given.get(key) is not True:
            zh, en = CATALOGUE[f"commitment.{key}"]
            out.append(reason("commitment_missing", field=f"commitments.{key}", label_zh=zh, label_en=en))
    return out


def commitments_given(inp: RuleInput) -> list[Reason]:
    """Every commitment the profile requires is affirmed (Shanghai art. 14, Ordos art. 17, ...)."""
    return _commitments_missing(inp.profile.registration.commitments, getattr(inp.form, "commitments", {}) or {})


# --- where and when the subject is ------------------------------------------------------------------


def _subject(app: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """The project described by an application, and the prefix of its fields: a registration describes it
    itself; Jiaxing's first reduction filing in `new_project` (arts. 14–17)."""
    if app.get("new_project") is not None:
        return app["new_project"], "new_project."
    return app, ""


def _area_words(area: tuple[str, ...]) -> tuple[str, str]:
    said = joined(divisions.names(code) for code in area)
    return said.zh, said.en


def location_in_area(inp: RuleInput) -> list[Reason]:
    """Jiaxing art. 12: 全部减排量应产生在嘉兴市行政区域内. Read as: the project or scenario that produces
    them is located inside the area the profile states (GB/T 2260 codes; Jiaxing: 330400), judged on the
    division chosen from the list — a division inside the area (a county of Jiaxing, or Jiaxing itself)
    passes; one outside it, or one that spans more than the area (浙江省 as a whole), does not. A location
    kept as free text from before divisions were chosen cannot be judged and is sent back to be chosen.
    Profiles without an area (no other seed limits it) are not asked."""
    area = inp.profile.registration.area
    if not area:
        return []
    subject, prefix = _subject(_app(inp))
    location = subject.get("location")
    code = location.get("division") if isinstance(location, Mapping) else None
    area_zh, area_en = _area_words(area)
    cited = inp.profile.cite("reductions_in_area")
    if not isinstance(code, str) or divisions.get(code) is None:
        return [reason("location_unlisted", field=f"{prefix}location.division", area_zh=area_zh, area_en=area_en,
                       **cited)]
    if not divisions.within_any(code, area):
        where_zh, where_en = divisions.names(code)
        return [reason("location_outside_area", field=f"{prefix}location.division", where_zh=where_zh,
                       where_en=where_en, area_zh=area_zh, area_en=area_en, **cited)]
    return []


def subject_running(inp: RuleInput) -> list[Reason]:
    """Ordos art. 9: 减排项目和减排场景申请主体应当在减排项目和减排场景正式运行后……提交申请. Read as: the
    start date the application states (when it began operating) is not after the day it is submitted
    (or resubmitted: a changed start date is judged again). Only where the profile says so."""
    if not inp.profile.registration.running_before_application:
        return []
    subject, prefix = _subject(_app(inp))
    raw = subject.get("start_date")
    start = raw if isinstance(raw, date) else date.fromisoformat(raw) if isinstance(raw, str) and raw else None
    if start is not None and start > inp.today:
        return [reason("not_running_yet", field=f"{prefix}start_date", start=start.isoformat(),
                       today=inp.today.isoformat(), **inp.profile.cite("running_before_application"))]
    return []


def highest_standard_adopted(inp: RuleInput) -> list[Reason]:
    """Ordos art. 5: 优先依据已经公布的碳普惠减排标准/方法学，按国家标准、地方标准/方法学、团体标准的次序确定采用
    优先级. Read as an order of adoption, not a preference the applicant weighs: where a filed standard of a
    higher tier covers the scope of the one the project cites (same scope, same kind), the project adopts
    the higher one, and the application is refused — not accepted with a stated reason. A higher
    standard that does not fit the project is one filed for another scope, and then nothing is refused.
    Judged at submission and resubmission: a project already registered keeps the standard it adopted."""
    priority = inp.profile.methodology.tier_priority
    m = inp.facts.methodology()
    if not priority or m is None or m.tier not in priority or not m.scope:
        return []
    higher = tuple(priority[: priority.index(m.tier)])
    if not higher:
        return []
    tier = CATALOGUE.get(f"profile_word.{m.tier}", (m.tier, m.tier))
    out = []
    for h in inp.facts.covering_standards(m.scope, higher):
        if h.kind != m.kind or (h.code, h.version) == (m.code, m.version):
            continue
        higher_tier = CATALOGUE.get(f"profile_word.{h.tier}", (h.tier or "-", h.tier or "-"))
        out.append(reason("higher_standard_applies", field="methodology_code", code=m.code, version=m.version,
                          tier_zh=tier[0], tier_en=tier[1], scope=m.scope, higher_code=h.code,
                          higher_version=h.version, higher_tier_zh=higher_tier[0], higher_tier_en=higher_tier[1],
                          **inp.profile.cite("standard_priority")))
    return out


def documents_attached(inp: RuleInput) -> list[Reason]:
    """Every document type the profile requires for this procedure is on the case, one reason per
    missing type (Beijing 编制说明 4(二): the implementation plan is registration material; Jiaxing
    art. 9 the development proposal, arts. 14 and 16 the accounting report with its calculation sheet
    and legality proofs, and the filing application)."""
    required = inp.profile.documents.required_for(inp.case.procedure)
    if not required:
        return []
    present = inp.facts.document_kinds()
    cited = inp.profile.cite("required_documents")
    out = []
    for kind in required:
        if kind not in present:
            zh, en = CATALOGUE[f"doc_kind.{kind}"]
            out.append(reason("document_missing", field=f"documents.{kind}", label_zh=zh, label_en=en, **cited))
    return out


def not_registered_elsewhere(inp: RuleInput) -> list[Reason]:
    """No double registration: CCER, VCS or any other scheme (Ordos art. 17, Shanghai art. 14)."""
    return [
        reason("double_registration", field=f"other_schemes.{i}", scheme=o["scheme"], reference=o["reference"])
        for i, o in enumerate(_app(inp).get("other_schemes") or [])
    ]


def project_class_fits(inp: RuleInput) -> list[Reason]:
    """Beijing distinguishes class-1 and class-2 projects (编制说明 4(一)); nobody else does."""
    classes = inp.profile.registration.project_classes
    given = _app(inp).get("project_class")
    if classes and given is None:
        return [reason("class_required", field="project_class")]
    if not classes and given is not None:
        return [reason("class_not_in_profile", field="project_class")]
    return []


def methodology_usable(inp: RuleInput) -> list[Reason]:
    """The cited methodology is filed, of this jurisdiction and of the subject's kind."""
    app = _app(inp)
    ref = {"code": app.get("methodology_code"), "version": app.get("methodology_version")}
    m = inp.facts.methodology()
    if m is None:
        return [reason("methodology_unknown", field="methodology_code", **ref)]
    out = []
    if m.jurisdiction != inp.case.jurisdiction:
        out.append(reason("methodology_jurisdiction", field="methodology_code", **ref))
    if m.kind != inp.case.subject_kind:
        kind = label(f"subject.{m.kind}")
        out.append(reason("methodology_kind", field="methodology_code", kind_zh=kind["zh"], kind_en=kind["en"],
                          **ref))
    if m.status == "superseded" and m.grace_until and inp.today <= m.grace_until:
        pass  # still usable during the profile's grace period
    elif m.status == "superseded":
        out.append(reason("methodology_superseded", field="methodology_version", current=m.current_version or "-",
                          until=m.grace_until.isoformat() if m.grace_until else "-", **ref))
    elif m.status != "filed":
        out.append(reason("methodology_not_filed", field="methodology_version", status=m.status, **ref))
    # Beijing 编制说明 4(一): 根据一级方法学开发并经审核予以登记的项目为一类项目.
    if app.get("project_class") == 1 and m.tier not in (None, "level_1"):
        out.append(reason("methodology_tier", field="project_class", **inp.profile.cite("class_1_methodology_level")))
    return out


def methodology_chosen(inp: RuleInput) -> list[Reason]:
    """`methodology_usable` judged when the draft names the methodology (opening it, or an edit that changes
    it), not first at submission: a version that is not filed here, or is of the other kind, is refused while
    the applicant is still choosing (issue 15). Submission judges it again: a version may be withdrawn or
    superseded between the draft and the submission."""
    if getattr(inp.form, "methodology_code", None) is None and getattr(inp.form, "methodology_version", None) is None:
        return []
    return [r for r in methodology_usable(inp) if r.code != "methodology_tier"]


def first_issuance_allowed(inp: RuleInput) -> list[Reason]:
    """Only Shanghai (art. 15) lets the first issuance ride with the registration."""
    if _app(inp).get("first_issuance_vintage") and not inp.profile.registration.first_issuance_with_registration:
        return [reason("first_issuance_not_here", field="first_issuance_vintage")]
    return []


# --- Beijing classes at acceptance ---------------------------------------------------------


def registrable_class(inp: RuleInput) -> list[Reason]:
    """Only class-1 projects are reviewed for registration; class 2 is only disclosed."""
    if _app(inp).get("project_class") == 2:
        return [reason("class2_not_registered", field="project_class")]
    return []


def disclosable_class(inp: RuleInput) -> list[Reason]:
    if _app(inp).get("project_class") != 2:
        return [reason("class1_not_disclosed", field="project_class")]
    return []


# --- expert panel --------------------------------------------------------------------------


def panel_composition_valid(inp: RuleInput) -> list[Reason]:
    form = _form(inp, PanelComposition)
    members, chair = list(form.members), form.chair
    minimum = inp.profile.panel.min_size
    out = []
    if inp.facts.panel() is not None:
        out.append(reason("panel_already"))
    if len(set(members)) != len(members):
        out.append(reason("panel_duplicate", field="members"))
    if len(set(members)) < minimum or len(set(members)) % 2 == 0:
        out.append(reason("panel_size", field="members", min=minimum))
    if chair not in members:
        out.append(reason("panel_chair", field="chair"))
    out.extend(reason("panel_not_expert", field="members", user=u) for u in inp.facts.not_experts(members))
    return out


def no_panel_yet(inp: RuleInput) -> list[Reason]:
    return [reason("panel_already")] if inp.facts.panel() is not None else []


def is_panel_member_without_opinion(inp: RuleInput) -> list[Reason]:
    panel = inp.facts.panel()
    if panel is None:
        return [reason("panel_missing")]
    if inp.actor_id not in panel.members:
        return [reason("not_panel_member")]
    if inp.actor_id in panel.opinions:
        return [reason("opinion_recorded")]
    return []


def panel_quorum(needed_share: Fraction, members: int) -> int:
    """Opinions needed: the profile's share of members, rounded up (default ⅔: 2 of 3, 4 of 5)."""
    return max(1, ceil(needed_share * members))


def chair_with_quorum(inp: RuleInput) -> list[Reason]:
    panel = inp.facts.panel()
    if panel is None:
        return [reason("panel_missing")]
    out = []
    if inp.actor_id != panel.chair:
        out.append(reason("not_panel_chair"))
    needed = panel_quorum(inp.profile.panel.quorum_share, len(panel.members))
    if len(panel.opinions) < needed:
        out.append(reason("quorum", given=len(panel.opinions), needed=needed))
    return out


# --- decision and publicity ----------------------------------------------------------------


def publicity_days_in_range(inp: RuleInput) -> list[Reason]:
    days = getattr(inp.form, "publicity_days", None)
    rules = inp.profile.publicity_for(inp.case.procedure)
    lo, hi = rules.days, rules.days_max
    if days is not None and not lo <= days <= hi:
        return [reason("publicity_days", field="publicity_days", min=lo, max=hi)]
    return []


def has_open_objection(inp: RuleInput) -> list[Reason]:
    return [] if inp.facts.open_objections() else [reason("no_open_objection")]


def no_open_objection(inp: RuleInput) -> bool:
    return inp.facts.open_objections() == 0


def objection_open(inp: RuleInput) -> bool:
    return inp.facts.open_objections() > 0


# --- methodology filing ----------------------------------------------------------------------


def tier_fits(inp: RuleInput) -> list[Reason]:
    """The tier is one the profile knows (Shanghai art. 9 class I/II, Beijing level 1/2, Ordos art. 5
    national/local/group); profiles without tiers take none."""
    tiers = inp.profile.methodology.tiers
    tier = _app(inp).get("tier")
    if tiers and tier not in tiers:
        return [reason("tier_required", field="tier", tiers=", ".join(tiers))]
    if not tiers and tier is not None:
        return [reason("tier_not_in_profile", field="tier")]
    return []


def version_is_new(inp: RuleInput) -> list[Reason]:
    app = _app(inp)
    code, version = app.get("code", ""), app.get("version", "")
    if inp.facts.methodology_version(code, version) or inp.facts.open_filings(code, version):
        return [reason("duplicate_version", field="version", code=code, version=version)]
    return []


def revises_a_filed_version(inp: RuleInput) -> list[Reason]:
    app = _app(inp)
    target = app.get("revises")
    if not target:
        return []
    if target == app.get("version"):
        return [reason("revision_same_version", field="revises")]
    m = inp.facts.methodology_version(app.get("code", ""), target)
    if m is None or m.status != "filed":
        return [reason("revision_not_filed", field="revises", code=app.get("code"), version=target,
                       status=m.status if m else "-")]
    return []


def no_higher_standard(inp: RuleInput) -> list[Reason]:
    """Ordos art. 5: national > local > group. A group standard cannot be filed for a scope a
    national or local standard already covers."""
    priority = inp.profile.methodology.tier_priority
    app = _app(inp)
    tier = app.get("tier")
    if not priority or tier not in priority:
        return []
    higher = priority[: priority.index(tier)]
    if tier != priority[-1] or not higher:
        return []
    return [reason("higher_standard", field="tier", code=m.code, version=m.version, tier=m.tier,
                   **inp.profile.cite("standard_priority"))
            for m in inp.facts.covering_standards(app.get("scope", ""), tuple(higher))]


def comment_open(inp: RuleInput) -> list[Reason]:
    facts = inp.facts.comments()
    cid = _form(inp, CommentAnswer).comment_id
    if cid not in facts.received:
        return [reason("comment_unknown", field="comment_id", id=cid)]
    if cid in facts.answered:
        return [reason("comment_answered", field="comment_id", id=cid)]
    return []


def every_comment_answered(inp: RuleInput) -> list[Reason]:
    facts = inp.facts.comments()
    left = sorted(set(facts.received) - set(facts.answered))
    return [reason("comments_unanswered", count=len(left), ids=", ".join(map(str, left)))] if left else []


def comments_received(inp: RuleInput) -> bool:
    return bool(inp.facts.comments().received)


def no_comments(inp: RuleInput) -> bool:
    return not inp.facts.comments().received


# --- issuance ----------------------------------------------------------------------------------


def project_issuable(inp: RuleInput) -> list[Reason]:
    """A registered, unsuspended project of this jurisdiction, in no other scheme (Ordos art. 17),
    never a Beijing class-2 project (编制说明 4(一): 二类项目不签发减排量), one case per vintage."""
    app = _app(inp)
    if app.get("new_project") is not None:  # Jiaxing: the first filing files the project too
        if inp.profile.registration.separate:
            return [reason("first_filing_not_here", field="new_project")]
        return first_filing_admissible(inp)
    p = inp.facts.project()
    if p is None or p.jurisdiction != inp.case.jurisdiction:
        return [reason("project_unknown", field="project_id", id=app.get("project_id"))]
    out = []
    if p.status != "registered":
        out.append(reason("project_not_registered", field="project_id", status=p.status))
    if p.suspended:
        out.append(reason("project_suspended", field="project_id", case=p.rectification_case or "-"))
    if p.project_class == 2:
        out.append(reason("class2_no_issuance", field="project_id", **inp.profile.cite("class_2_not_issued")))
    out.extend(reason("double_registration", field="project_id", scheme=s, reference="-") for s in p.other_schemes)
    if inp.facts.open_issuances(p.id, app["vintage"]):
        out.append(reason("vintage_taken", field="vintage", vintage=app["vintage"]))
    return out


def first_filing_admissible(inp: RuleInput) -> list[Reason]:
    """Jiaxing art. 13 (禁止项目): 符合下列条件之一的，不得申请开发碳普惠减排量 — (一) a statutory or policy
    obligation to reduce GHG; (二) under the national ETS's allowance management; (三) not unique (art. 28:
    in another reduction mechanism, counted twice); (四) not inclusive (art. 28: it helps small and
    micro firms go low-carbon or widens the public's low-carbon life). Jiaxing registers no project apart
    (arts. 14–17), so the first reduction filing carries them: the owner declares each of the four as the
    profile lists them (`commitments`), and the schemes it names are checked — the national ETS
    (`CN_ETS`) is a prohibited project under (二), any other scheme a double registration under (三)."""
    app = _app(inp)
    new = app.get("new_project") or {}
    out = _commitments_missing(inp.profile.registration.commitments, app.get("commitments") or {})
    for i, o in enumerate(new.get("other_schemes") or []):
        if o["scheme"] == "CN_ETS":
            out.append(reason("prohibited_national_ets", field=f"new_project.other_schemes.{i}",
                              reference=o["reference"], **inp.profile.cite("prohibited_projects")))
        else:
            out.append(reason("double_registration", field=f"new_project.other_schemes.{i}", scheme=o["scheme"],
                              reference=o["reference"]))
    return out


def monitoring_period_allowed(inp: RuleInput) -> list[Reason]:
    """After the profile's earliest date (Jiaxing art. 12: 2020-09-22) and up to the application
    date (截至申报日止), within the look-back, in the case's vintage, overlapping no other period."""
    form = _form(inp, MonitoringReport)
    rules_ = inp.profile.issuance
    start, end = form.period_start, form.period_end
    out = []
    if start < rules_.earliest_date:
        out.append(reason("period_too_early", field="period_start", earliest=rules_.earliest_date.isoformat()))
    if end > inp.today:
        out.append(reason("period_in_future", field="period_end"))
    floor = inp.today.replace(year=inp.today.year - rules_.lookback_years)
    if start < floor:
        out.append(reason("period_lookback", field="period_start", years=rules_.lookback_years,
                          earliest=floor.isoformat()))
    vintage = _app(inp).get("vintage")
    if end.year != vintage:
        out.append(reason("period_vintage", field="period_end", vintage=vintage))
    out.extend(reason("period_overlap", field="period_start", case=c, start=s.isoformat(), end=e.isoformat())
               for c, s, e in inp.facts.overlapping_periods(start, end))
    return out


def verifier_filed(inp: RuleInput) -> list[Reason]:
    """Ordos art. 15, Shanghai art. 15: a verifier the authority filed in this jurisdiction, for this
    scope (the methodology or the subject's kind), valid today."""
    form = inp.form  # a project's monitoring report or a scenario period's choice names the verifier
    if not isinstance(form, MonitoringReport | VerifierChoice):
        raise TypeError(f"rule reads a verifier choice, the arrow gave a {type(form).__name__}")
    v = inp.facts.verifier(form.verifier_id)
    if v is None or v.jurisdiction != inp.case.jurisdiction:
        return [reason("verifier_unknown", field="verifier_id")]
    out = []
    if not v.valid_from <= inp.today <= v.valid_until:
        out.append(reason("verifier_expired", field="verifier_id", until=v.valid_until.isoformat()))
    p = inp.facts.project()
    scope = {p.methodology_code, p.kind} if p else {inp.case.subject_kind}
    if not scope & set(v.scopes):
        out.append(reason("verifier_scope", field="verifier_id", scopes=", ".join(v.scopes)))
    return out


def verifier_accredited_and_independent(inp: RuleInput) -> list[Reason]:
    """Ordos art. 15: a verifier the authority filed, for this scope, valid today. Jiaxing art. 15:
    核查机构不得对其编制核算报告的项目进行减排量核查."""
    form = _form(inp, MonitoringReport)
    out = verifier_filed(inp)
    v = inp.facts.verifier(form.verifier_id)
    if v is None or v.jurisdiction != inp.case.jurisdiction:
        return out
    if v.uscc == form.prepared_by_uscc:
        out.append(reason("verifier_conflict", field="verifier_id", **inp.profile.cite("verifier_independence")))
    if form.calculation_sheet_sha256 not in inp.facts.document_hashes():
        out.append(reason("sheet_missing", field="calculation_sheet_sha256"))
    return out


def verified_by_the_commissioned_verifier(inp: RuleInput) -> list[Reason]:
    report = _app(inp).get("report") or {}
    v = inp.facts.verifier(report.get("verifier_id", 0))
    out = []
    if v is None or v.org_id is None or v.org_id != inp.actor_org_id:
        out.append(reason("not_commissioned_verifier"))
    verified = getattr(inp.form, "verified_tco2e", None)
    if verified is not None and report and verified > Decimal(str(report["claimed_tco2e"])):
        out.append(reason("verified_over_claimed", field="verified_tco2e", claimed=report["claimed_tco2e"]))
    return out


def issued_within_verified(inp: RuleInput) -> list[Reason]:
    verified = (_app(inp).get("verification") or {}).get("verified_tco2e")
    issued = getattr(inp.form, "issued_tco2e", None)
    if verified is None:
        return [reason("not_verified")]
    if issued is not None and Decimal(issued) > Decimal(str(verified)):
        return [reason("issued_over_verified", field="issued_tco2e", verified=verified)]
    return []


def form_says(field: str, value: str) -> Callable[[RuleInput], bool]:
    """An arrow chosen by what the form says (several arrows share a trigger, e.g. uphold_objection's outcomes)."""
    def says(inp: RuleInput) -> bool:
        return bool(getattr(inp.form, field, None) == value)
    return says


def returns_to(state: str) -> Callable[[RuleInput], bool]:
    def held_in(inp: RuleInput) -> bool:
        return inp.case.held_from == state

    return held_in


# --- retirement --------------------------------------------------------------------------------


def applicant_not_disqualified(inp: RuleInput) -> list[Reason]:
    """Jiaxing art. 26: a disqualified organisation opens no new case in the jurisdiction that disqualified
    it (states/disqualification.py has our reading)."""
    return disqualification.barred(inp.facts.disqualification(), "new_case", inp.profile)


def holder_not_disqualified(inp: RuleInput) -> list[Reason]:
    """Jiaxing art. 26: nor are units retired on its own behalf, even on a request made before."""
    return disqualification.barred(inp.facts.disqualification(), "retirement", inp.profile, field="holder_org_id")


def declared_not_claimed_elsewhere(inp: RuleInput) -> list[Reason]:
    """Ordos art. 17, Shanghai art. 14: the monitoring report declares the reductions are not claimed in another
    voluntary scheme (states/double_claim.py)."""
    return double_claim.declaration_reasons(inp.profile, getattr(inp.form, "not_claimed_elsewhere", None))


def units_not_frozen(inp: RuleInput) -> list[Reason]:
    """Units frozen by a double-claim finding are not retired: what is left unfrozen must cover the amount."""
    app = _app(inp)
    frozen = inp.facts.frozen(app.get("holder_org_id"), app.get("project_id"), app.get("vintage"))
    held = inp.facts.holding(app.get("holder_org_id"), app.get("project_id"), app.get("vintage"))
    return double_claim.frozen_reasons(inp.profile, frozen, asked=app["amount_tco2e"],
                                       available=held - double_claim.units(frozen))


def enough_held(inp: RuleInput) -> list[Reason]:
    app = _app(inp)
    held = inp.facts.holding(app.get("holder_org_id"), app.get("project_id"), app.get("vintage"))
    if app["amount_tco2e"] > held:
        return [reason("not_enough_held", field="amount_tco2e", held=held, asked=app["amount_tco2e"])]
    return []


def _tier_words(tiers: tuple[str, ...]) -> tuple[str, str]:
    said = joined((label(f"profile_word.{t}")["zh"], label(f"profile_word.{t}")["en"]) for t in tiers)
    return said.zh, said.en


def compliance_use_allowed(inp: RuleInput) -> list[Reason]:
    """Shanghai art. 17: reductions issued under a class-I methodology may be used for the Shanghai ETS's
    allowance compliance (配额履约清缴); class-II ones for every other use but not this. Our reading: the
    retirement names the project whose units it retires (a retirement across projects could take class-II
    units), and that project's methodology tier is one the profile lists; where a profile lists none, the
    purpose does not exist there (no other seed gives its reductions an ETS use)."""
    app = _app(inp)
    if app.get("purpose") != "ets_compliance":
        return []
    allowed = tuple(inp.profile.methodology.compliance_tiers)
    if not allowed:
        return [reason("compliance_not_here", field="purpose", jurisdiction_zh=inp.profile.name_zh,
                       jurisdiction_en=inp.profile.name_en)]
    zh, en = _tier_words(allowed)
    cited = inp.profile.cite("compliance_use")
    if not app.get("project_id"):
        return [reason("compliance_needs_project", field="project_id", tiers_zh=zh, tiers_en=en, **cited)]
    tier = inp.facts.project_tier(int(app["project_id"]))
    if tier not in allowed:
        word = label(f"profile_word.{tier}") if tier else {"zh": "-", "en": "-"}
        return [reason("compliance_tier", field="purpose", tier_zh=word["zh"], tier_en=word["en"], tiers_zh=zh,
                       tiers_en=en, **cited)]
    return []


# --- supervision --------------------------------------------------------------------------------


def rounds_left(inp: RuleInput) -> list[Reason]:
    """A rejected report sends the case back with a new deadline, up to the profile's rounds."""
    rounds = len(_app(inp).get("notices") or [])
    if rounds >= inp.profile.rectification.max_rounds:
        return [reason("rounds_exhausted", rounds=rounds)]
    return []


def project_not_suspended(inp: RuleInput) -> list[Reason]:
    """While a rectification runs no issuance case advances (it waits on hold)."""
    p = inp.facts.project()
    if p is not None and p.status == "revoked":
        return [reason("project_not_registered", field="project_id", status=p.status)]
    if p is not None and p.suspended:
        return [reason("project_suspended", field="project_id", case=p.rectification_case or "-")]
    return []


def project_registered(inp: RuleInput) -> list[Reason]:
    p = inp.facts.project()
    if p is None or p.status != "registered":
        return [reason("project_not_registered", field="outcome", status=p.status if p else "-")]
    return []


def handlers_are_officers(inp: RuleInput) -> list[Reason]:
    """A report's handlers are case officers of its jurisdiction (Jiaxing art. 27: those who
    investigate and reply are the ones who may know the reporter)."""
    officers = list(getattr(inp.form, "officers", []))
    return [reason("handler_not_officer", field="officers", user=u)
            for u in inp.facts.lacking_role("case_officer", officers)]


def handlers_assigned(inp: RuleInput) -> list[Reason]:
    """Only a standing assignment can be withdrawn."""
    current = set(inp.facts.report_handlers())
    return [reason("handler_not_assigned", field="officers", user=u)
            for u in dict.fromkeys(getattr(inp.form, "officers", [])) if u not in current]


# --- Beijing revenue audits -----------------------------------------------------------------------


def returned_share(form: RevenueAuditReport) -> Decimal:
    net = form.proceeds_cny - form.costs_cny
    return Decimal(1) if net <= 0 else form.returned_to_users_cny / net


def share_returned_enough(inp: RuleInput) -> bool:
    """编制说明 4(二): 返还比例不低于出售碳普惠减排量所获资金（扣除运行成本后）的90%."""
    return bool(returned_share(_form(inp, RevenueAuditReport)) >= inp.profile.revenue_audit.min_share)


def audit_report_attached(inp: RuleInput) -> list[Reason]:
    if _form(inp, RevenueAuditReport).report_sha256 not in inp.facts.document_hashes():
        return [reason("sheet_missing", field="report_sha256")]
    return []
