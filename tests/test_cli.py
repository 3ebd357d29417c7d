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
    for command in ("validate", "new-class", "workflows"):
        assert command in result.stdout
