"""The command line an operator uses: migrate, users and tokens, calendar import, tick."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services import cli
from services.accounts.identity import authenticate
from services.store.engine import Database

pytestmark = pytest.mark.integration


def test_cli_migrates_creates_users_tokens_imports_a_year_and_ticks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     test_clock) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert cli.main(["migrate"]) == 0
    assert cli.main(["create-user", "--username", "li", "--name", "李经办", "--grant", "case_officer:SH",
                     "--grant", "approver:sd"]) == 0
    assert cli.main(["create-user", "--username", "firm", "--name", "某公司", "--grant", "applicant:SH",
                     "--org-uscc", "91350100M000100Y43", "--org-name", "某公司"]) == 0
    capsys.readouterr()
    assert cli.main(["create-token", "--username", "li"]) == 0
    token = capsys.readouterr().out.strip()
    db = Database(url)
    with db.read() as s:
        actor = authenticate(s, token)
    assert actor.grants == frozenset({("case_officer", "SH"), ("approver", "SD")})
    notice = tmp_path / "2027.json"
    notice.write_text(json.dumps({"source": "国办发明电〔2026〕X号", "days": [
        {"date": "2027-02-06", "kind": "holiday", "name": "春节"},
        {"date": "2027-02-20", "kind": "workday", "name": "春节调休"}]}), encoding="utf-8")
    assert cli.main(["calendar-import", "--year", "2027", "--file", str(notice)]) == 0
    capsys.readouterr()
    assert cli.main(["tick"]) == 0
    assert json.loads(capsys.readouterr().out) == {"fired": [], "cancelled": [], "failed": []}
    from services.engine.workdays import calendar

    with db.read() as s:
        cal = calendar(s)
        assert not cal.is_provisional_year(2027) and cal.is_workday(__import__("datetime").date(2027, 2, 20))
    with pytest.raises(SystemExit):
        cli.main(["create-user", "--username", "x", "--name", "x", "--grant", "no-jurisdiction"])
    db.dispose()


def test_cli_keygen_creates_the_log_key_once_private_and_rotates(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                                 ) -> None:
    import os
    import stat

    from services.transparency import checkpoint, keys

    assert cli.main(["keygen"]) == 0
    created, vkey = capsys.readouterr().out.splitlines()
    path = keys.key_file()
    assert created == f"created {path}" and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    kid, name, _ = checkpoint.parse_vkey(vkey)
    assert name == keys.origin() == "carbon-inclusion.local/log"
    assert cli.main(["keygen"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"kept {path}", vkey]
    assert cli.main(["keygen", "--rotate"]) == 0
    _, new = capsys.readouterr().out.splitlines()
    assert new != vkey and keys.trusted_keys_file().read_text().splitlines() == [vkey]
    assert kid in keys.keyring().verifiers and keys.keyring().current[0] != kid


def test_cli_keygen_exports_the_verifier_keys_for_processes_without_the_private_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The scaled-out API serves the log's public key and checks checkpoints without holding the private key
    (docker/compose.yaml: only the worker signs): keygen writes it the verifier keys, the current one last."""
    from services.transparency import keys

    public = tmp_path / "public" / "log-trusted-keys.txt"
    assert cli.main(["keygen", "--export-verifiers", str(public)]) == 0
    _, first, wrote = capsys.readouterr().out.splitlines()
    assert wrote == f"wrote 1 verifier key(s) to {public}" and public.read_text().splitlines() == [first]
    assert cli.main(["keygen", "--rotate", "--export-verifiers", str(public)]) == 0
    _, current, _ = capsys.readouterr().out.splitlines()
    assert public.read_text().splitlines() == [first, current]
    signer = keys.keyring().current
    # a process with no private key, trusting only that file, shows the same current key and trusts both
    monkeypatch.setenv("LOG_SIGNING_KEY_FILE", str(tmp_path / "absent" / "log-signing-key.pem"))
    monkeypatch.setenv("LOG_TRUSTED_KEYS_FILE", str(public))
    ring = keys.keyring()
    assert ring.signer is None and ring.current is not None and signer is not None
    assert ring.current[0] == signer[0] and len(ring.verifiers) == 2


def test_the_worker_refuses_to_start_without_a_database(tmp_path) -> None:
    """A worker with no DATABASE_URL used to run every flow on a fresh SQLite file and look healthy."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PREFECT_API_URL")}
    done = subprocess.run([sys.executable, "-m", "services.cli", "worker"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "database_not_configured" in done.stderr and "prefect_not_configured" in done.stderr
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}"
    done = subprocess.run([sys.executable, "-m", "services.cli", "worker"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "database_not_migrated" in done.stderr
