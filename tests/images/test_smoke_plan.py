"""Which in-container smoke checks a class gets (jh_pipeline.images.smoke.SmokePlan)."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading

import pytest

from jh_pipeline.images.smoke import R_CHECKS, SMOKE_SCRIPT, SmokePlan

PYTHON_CHECKS = ["uid", "imports", "kernelspec", "notebook", "singleuser", "terminal"]


def _smoke_checks_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("smoke_checks", SMOKE_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_base_class_keeps_the_python_checks() -> None:
    plan = SmokePlan.for_class("demo", ["six", "ipykernel", "six"], None)
    assert plan == SmokePlan.for_python_class("demo", ["ipykernel", "six"], None)
    assert plan.in_container == PYTHON_CHECKS
    assert plan.r_packages == [] and plan.r_conda_packages == []


def test_r_class_adds_the_r_checks_and_package_names() -> None:
    plan = SmokePlan.for_class(
        "stats", ["ipykernel", "r-base", "r-randomforest", "r-caret", "numpy"], 8_000_000_000,
        uses_r=True, r_packages=["GGally", "ggrepel", "GGally"],
    )
    assert plan.in_container == PYTHON_CHECKS + R_CHECKS
    assert plan.r_conda_packages == ["base", "caret", "randomforest"]  # matched case-insensitively in R
    assert plan.r_packages == ["GGally", "ggrepel"]
    # the class kernel is the default one, named python3
    assert plan.size_budget == 8_000_000_000 and plan.kernels == ["python3"]
    assert plan.notebooks == [("python3", "import sys; print('smoke', sys.prefix)", "smoke /opt/envs/stats")]


def test_mysql_class_adds_the_roundtrip() -> None:
    assert SmokePlan.for_class("db", ["pymysql"], None, mysql=True).in_container == PYTHON_CHECKS + ["mysql_roundtrip"]
    both = SmokePlan.for_class("db", ["r-base"], None, uses_r=True, mysql=True)
    assert both.in_container == PYTHON_CHECKS + R_CHECKS + ["mysql_roundtrip"]


def test_sqlite_class_adds_its_kernel_and_query() -> None:
    plan = SmokePlan.for_class("sq", ["ipykernel", "xeus-sqlite"], None, sqlite=True, display_name="SQL 101")
    assert plan.in_container == PYTHON_CHECKS + ["sqlite_kernel"]
    assert plan.kernels == ["python3", "xsqlite"] and plan.display_name == "SQL 101"


def test_every_planned_check_exists_in_the_container_script() -> None:
    checks = _smoke_checks_module().CHECKS
    assert set(PYTHON_CHECKS + R_CHECKS + ["mysql_roundtrip", "sqlite_kernel"]) <= set(checks)


def test_the_container_script_runs_imports_first_then_the_rest_side_by_side(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Results come back in plan order; the notebook check sees the modules the import check found;
    the other checks overlap (two that each wait for the other would time out run one after another)."""
    module = _smoke_checks_module()
    both_started = threading.Barrier(2, timeout=5)

    def imports(plan):  # type: ignore[no-untyped-def]
        plan["_modules"] = ["tabulate"]
        return module.result("packages_import", True, "1")

    def waits(name: str):  # type: ignore[no-untyped-def]
        def check(plan):  # type: ignore[no-untyped-def]
            both_started.wait()
            return module.result(name, True, ",".join(plan["_modules"]))
        return check

    def crashes(plan):  # type: ignore[no-untyped-def]
        raise OSError("no such kernel")

    monkeypatch.setattr(module, "CHECKS", {"notebook": waits("notebook_executes"), "imports": imports,
                                            "terminal": waits("terminal_python_pip"), "uid": crashes})
    monkeypatch.setattr(sys, "argv", ["smoke_checks.py", json.dumps({"checks": ["notebook", "imports", "terminal", "uid"]})])
    module.main()
    out = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["passed"], r["message"]) for r in out] == [
        ("notebook_executes", True, "tabulate"), ("packages_import", True, "1"),
        ("terminal_python_pip", True, "tabulate"), ("uid", False, "OSError: no such kernel")]
