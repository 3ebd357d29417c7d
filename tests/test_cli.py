from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.catalog.conftest import BASE_CLASS, write_tree


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jh_pipeline.cli", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_validate_exit_status(tmp_path: Path) -> None:
    write_tree(tmp_path / "ok", {"requirements.txt": "ipykernel\n"}, {"c1": {**BASE_CLASS, "requirements.txt": "NumPy\n"}})
    write_tree(tmp_path / "bad", {"requirements.txt": "ipykernel\n"}, {"c1": {**BASE_CLASS, "requirements.txt": "x=1.*\nx=2.*\n"}})

    warned = run("validate", "--requirements", "ok", cwd=tmp_path)
    assert warned.returncode == 0  # warnings alone do not fail
    assert warned.stdout.startswith("ok/classes/c1/requirements.txt:1: warning:")

    failed = run("--requirements", "bad", "validate", cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stdout.startswith("bad/classes/c1/requirements.txt:2: error:")
    assert "1 classes checked: 1 error(s), 0 warning(s)" in failed.stderr


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("validate", "new-class", "workflows", "promote", "rollback", "history", "hub-config"):
        assert command in result.stdout


REPO = Path(__file__).resolve().parents[1]


def test_committed_workflows_are_up_to_date() -> None:
    result = run("workflows", "--check", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list((REPO / ".github" / "workflows").glob("*.yml"))) == 12  # one per class, preflight, production


def test_export_env_copies_the_released_set(tmp_path: Path) -> None:
    import os

    from jh_pipeline.store import LocalStore

    write_tree(tmp_path / "repo" / "requirements", {"requirements.txt": "six\n"},
               {"c1": {**BASE_CLASS, "class.yaml": 'target: base\npython_version: "3.11"\nsemester: fall-2026\n'}})
    store = LocalStore(tmp_path / "store")
    store.publish_set("fall-2026", "c1", "s1", {"conda/environment.yml": b"name: c1\n"})
    env = {**os.environ, "JH_REPO_ROOT": str(tmp_path / "repo"), "JH_STORE_DIR": str(tmp_path / "store")}

    def export() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "jh_pipeline.cli", "export-env", "c1", "out"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, check=False)

    missing = export()
    assert missing.returncode == 1 and "no released env files for fall-2026" in missing.stderr
    store.switch_latest("fall-2026", "c1", "s1")
    done = export()
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "conda" / "environment.yml").read_text() == "name: c1\n"
