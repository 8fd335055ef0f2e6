"""Jurisdiction profiles: one file per seed over shared defaults, checked against the procedures when
they load, so a typo fails at start-up; a new jurisdiction is one TOML file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from states.machine import profile_problems
from states.profiles import DEFAULTS, PROFILE_DIR, load_profiles

ROOT = Path(__file__).resolve().parents[2]

GUANGDONG = """\
# A sixth jurisdiction for the test: only what differs from the defaults
code = "GD"
name_zh = "广东省"
name_en = "Guangdong"
seed = "none (test)"

[registration]
separate = true
commitments = ["no_other_voluntary_scheme"]
"""


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "jurisdictions"
    shutil.copytree(PROFILE_DIR, target)
    return target


def test_the_shipped_profiles_fit_the_procedures() -> None:
    profiles = load_profiles(PROFILE_DIR)
    assert sorted(profiles) == ["BJ", "JX", "ORD", "SD", "SH"]
    assert profile_problems(profiles) == []


def test_a_profile_states_only_what_differs_from_the_defaults() -> None:
    for path in PROFILE_DIR.glob("[!_]*.toml"):
        text = path.read_text(encoding="utf-8")
        assert "[sla]" not in text and "[panel]" not in text, path.name  # shared: in the defaults only
    sh = load_profiles(PROFILE_DIR)["SH"]
    assert sh.sla["technical_review"] == 20 and sh.panel.size == 5  # from the defaults
    assert sh.methodology.public_comment is True  # Shanghai art. 11, from its own file


def test_a_misspelt_or_missing_sla_is_named(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    defaults = (directory / DEFAULTS).read_text(encoding="utf-8")
    (directory / DEFAULTS).write_text(defaults.replace("completeness_check = 5", "completness_check = 5"),
                                      encoding="utf-8")
    problems = profile_problems(load_profiles(directory))
    assert "SH: sla.completness_check is used by no task or timer" in problems
    assert any(p.startswith("SH: sla.completeness_check is missing") for p in problems)


def test_an_unknown_key_or_state_fails_naming_the_file(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    (directory / "ordos.toml").write_text((directory / "ordos.toml").read_text(encoding="utf-8")
                                          + "\n[clock]\npaused_in = [\"publicty\"]\n", encoding="utf-8")
    assert "ORD: clock.paused_in names publicty, which no procedure has" in profile_problems(load_profiles(directory))
    (directory / "shandong.toml").write_text((directory / "shandong.toml").read_text(encoding="utf-8")
                                             .replace("[methodology]", "[methodology]\npublic_coment = true"),
                                             encoding="utf-8")
    with pytest.raises(ValueError, match="shandong.toml"):
        load_profiles(directory)


def test_a_sixth_jurisdiction_is_one_file(tmp_path: Path) -> None:
    """Guangdong from one TOML file: users, a registration through publicity to a registration number."""
    directory = _copy(tmp_path)
    (directory / "guangdong.toml").write_text(GUANGDONG, encoding="utf-8")
    script = textwrap.dedent(f"""
        from datetime import timedelta
        from services.bootstrap import setup
        from services.engine.clock import clock
        from services.demo import Driver, application, drive_to, seed_people
        from services.store.engine import Database
        from services.store.tables import Case, Project
        from services.orchestration.timers import run_due_timers
        from datetime import datetime
        from zoneinfo import ZoneInfo
        clock.set(datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai")))
        db = Database("sqlite:///{tmp_path / 'gd.sqlite3'}")
        setup(db)
        seed_people(db)
        driver = Driver(db)
        cid = driver.open("gd_applicant", "GD", application("GD"))
        print(drive_to(driver, "GD", cid, "publicity"))
        clock.advance(timedelta(days=20))
        run_due_timers(db, clock.now())
        with db.read() as s:
            case = s.get(Case, cid)
            print(case.state, s.get(Project, case.project_id).registration_number)
    """)
    env = {**os.environ, "CARBON_PROFILES": str(directory)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["publicity", "registered GD-2026-P00001"]


def test_seed_articles_are_cited_from_the_profile_of_the_case() -> None:
    """The verifier independence rule holds everywhere, but only Jiaxing's reasons cite Jiaxing art. 15."""
    from states.messages import reason

    profiles = load_profiles(PROFILE_DIR)
    jx = reason("verifier_conflict", **profiles["JX"].cite("verifier_independence"))
    sh = reason("verifier_conflict", **profiles["SH"].cite("verifier_independence"))
    assert jx.zh.endswith("（嘉兴办法第十五条）") and jx.en.endswith("(Jiaxing art. 15)")
    assert "嘉兴" not in sh.zh and "Jiaxing" not in sh.en and sh.en.endswith("report it prepared")
    cited = profiles["ORD"].cite("standard_priority")
    ordos = reason("higher_standard", code="X", version="1", tier="national", **cited)
    assert ordos.zh.endswith("（鄂尔多斯办法第五条）")


def test_an_unknown_basis_key_is_refused(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    with (directory / "ordos.toml").open("a", encoding="utf-8") as f:
        f.write('verifier_independance = ["x", "y"]\n')
    with pytest.raises(ValueError, match="verifier_independance"):
        load_profiles(directory)
