"""A jurisdiction's profile as tables people can read: each rule named in both languages, its value in
words, and the seed article the profile file cites beside it in a comment (read from the file itself,
so the page and the file cannot drift apart)."""

from __future__ import annotations

import tomllib
from functools import cache
from typing import Any

from states.messages import label
from states.profiles import PROFILE_DIR, Profile

SECTIONS: dict[str, tuple[str, str]] = {
    "registration": ("项目与场景登记", "Registration"), "methodology": ("方法学备案", "Methodology filing"),
    "issuance": ("减排量签发", "Issuance"), "rectification": ("整改", "Rectification"),
    "revenue_audit": ("收益使用审计", "Revenue-use audit"),
    "sla": ("各环节办理时限（工作日）", "Stage time limits (working days)"),
    "clock": ("法定办理时限", "Statutory clock"), "panel": ("专家评审组", "Expert panel"),
    "reminders": ("到期提醒", "Reminders"),
}
RULES: dict[str, tuple[str, str]] = {
    "separate": ("项目与场景分别登记", "Projects and scenarios registered separately"),
    "publicity_days": ("公示期（工作日）", "Publicity (working days)"),
    "publicity_days_max": ("公示期上限（工作日）", "Publicity at most (working days)"),
    "publication_day_counts": ("发布当日计入公示期", "Publication day counts"),
    "scenario_joint_review": ("场景联合技术评估", "Scenarios reviewed jointly"),
    "first_issuance_with_registration": ("登记时可同时首次签发", "First issuance with registration"),
    "project_classes": ("项目类别", "Project classes"), "commitments": ("申请人承诺事项", "Applicant's commitments"),
    "tiers": ("方法学层级", "Methodology tiers"), "public_comment": ("公开征求意见", "Public comment"),
    "comment_days": ("征求意见期（工作日）", "Comment period (working days)"), "publicity": ("公示", "Publicity"),
    "grace_days": ("被替代版本的过渡期（自然日）", "Grace period of a superseded version (days)"),
    "tier_priority": ("层级优先顺序", "Tier priority"), "window": ("签发窗口", "Issuance window"),
    "window_opens": ("窗口开启（月-日）", "Window opens (MM-DD)"),
    "window_closes": ("窗口关闭（月-日）", "Window closes (MM-DD)"),
    "expert_review": ("专家评审", "Expert review"), "earliest_date": ("减排量最早起算日", "Earliest reduction date"),
    "lookback_years": ("可追溯年数", "Look-back years"),
    "deadline_days": ("整改期限（工作日）", "Deadline (working days)"),
    "max_rounds": ("最多整改轮次", "Rounds at most"), "on_failure": ("逾期未整改的处理", "When rectification fails"),
    "false_materials_clawback": ("材料虚假追回已签发减排量", "False materials: claw back issued units"),
    "anomalous_data_adjustment": ("数据异常核减", "Anomalous data: adjust units"), "enabled": ("启用", "Enabled"),
    "due": ("报告截止（月-日）", "Report due (MM-DD)"), "min_share": ("返还用户最低比例", "Minimum share returned"),
    "limit_days": ("办理时限（工作日）", "Time limit (working days)"),
    "paused_in": ("不计入时限的状态", "States that pause the clock"), "min_size": ("最少人数", "Minimum size"),
    "size": ("抽取人数", "Drawn size"), "draw": ("随机抽取", "Random draw"),
    "cool_off_days": ("同一对象回避期（自然日）", "Cool-off on the same subject (days)"),
    "quorum": ("出具意见的法定比例", "Quorum"),
    "before_days": ("到期前提醒（工作日）", "Remind before due (working days)"),
}
WORDS: dict[str, tuple[str, str]] = {
    "annual": ("每年集中签发", "Annual campaign"), "on_application": ("随时申请", "On application"),
    "revoke": ("撤销登记", "Revoke"), "stay_suspended": ("保持暂停", "Stay suspended"),
    "class_I": ("I 类", "Class I"), "class_II": ("II 类", "Class II"), "level_1": ("一级", "Level 1"),
    "level_2": ("二级", "Level 2"), "national": ("国家标准", "National standard"),
    "local": ("地方标准/方法学", "Local standard or methodology"), "group": ("团体标准", "Group standard"),
    "1": ("一类", "Class 1"), "2": ("二类", "Class 2"),
}


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
    heading, keyed, loose = "", {}, {}
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


def _shown(section: str, key: str, value: Any) -> tuple[str, str]:  # noqa: ANN401
    if isinstance(value, bool):
        return ("是 ✔", "Yes ✔") if value else ("否 ✘", "No ✘")
    if isinstance(value, (list, tuple)):
        if not value:
            return "—", "—"
        prefix = {"commitments": "commitment.", "paused_in": "state."}.get(key)
        names = [label(prefix + str(v)) if prefix else dict(zip(("zh", "en"), WORDS.get(str(v), (str(v),) * 2),
                                                                strict=True)) for v in value]
        return "；".join(n["zh"] for n in names), "; ".join(n["en"] for n in names)
    return WORDS.get(str(value), (str(value), str(value)))


def profile_sections(profile: Profile) -> tuple[str, list[dict[str, Any]]]:
    """Each section of a profile as rows (rule, value, the seed article its file cites) for a table; and
    the file's heading (which seed it follows)."""
    heading, keyed, loose = _notes(profile.code)
    data = profile.model_dump(mode="json")
    out = []
    for name, title in SECTIONS.items():
        rows = []
        for key, value in data[name].items():
            names = label(f"task.{key}") if name == "sla" else dict(zip(("zh", "en"), RULES.get(key, (key, key)),
                                                                        strict=True))
            zh, en = _shown(name, key, value)
            rows.append({"key": key, "label": names, "value": {"zh": zh, "en": en},
                         "note": keyed.get(f"{name}.{key}", "")})
        out.append({"name": name, "title": title, "rows": rows, "notes": loose.get(name, [])})
    return heading, out
