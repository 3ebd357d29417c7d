"""pip lock: pure report parsing on a stored real report, plus real resolutions against PyPI."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from jh_pipeline.envs.pip_lock import (
    DEFAULT_INDEX_URL,
    PipIndexConfig,
    PipLock,
    PipResolveError,
    parse_pip_report,
    pip_args,
    pip_environment,
    resolve_pip_lock,
)

# Generated once by a real `run_pip_report(["six", "packaging>=23", "PyYAML>=6.0.0",
# "git+file:///tmp/jh-demo-vcs"], python_version="3.11", ...)`, the last being a local
# git repository of a tiny package depending on six and PyYAML.
SAMPLE = Path(__file__).parent / "data" / "pip_report_sample.json"
SIX_SHA = "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"
VCS_COMMIT = "377f01493f74ac89c199474fc03e736f8efe8b53"


@pytest.fixture
def report() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text())


def _without_vcs(report: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(report)
    out["install"] = [i for i in out["install"] if "vcs_info" not in i["download_info"]]
    return out


def _body(lock: PipLock) -> list[str]:
    return [line for line in lock.text.splitlines() if not line.startswith("#")]


def test_index_packages_are_pinned_with_sha256(report: dict[str, Any]) -> None:
    lock = parse_pip_report(_without_vcs(report), python_version="3.11")
    assert lock.pins == {"packaging": "26.4", "pyyaml": "6.0.4", "six": "1.17.0"}
    assert f"six==1.17.0 --hash=sha256:{SIX_SHA}" in _body(lock)
    assert all(" --hash=sha256:" in line for line in _body(lock))
    assert lock.text.startswith("# Pinned by jh_pipeline from pip's resolution for Python 3.11")
    assert lock.warnings == []


def test_vcs_requirement_is_pinned_to_its_commit_and_drops_hashes(report: dict[str, Any]) -> None:
    lock = parse_pip_report(report)
    assert f"jh-demo-vcs @ git+file:///tmp/jh-demo-vcs@{VCS_COMMIT}" in _body(lock)
    # pip's hash-checking mode rejects VCS lines, so a mixed lock carries no hashes at all...
    assert not any("--hash" in line for line in _body(lock))
    assert any("without hashes" in w and "jh-demo-vcs" in w for w in lock.warnings)
    # ...but the hashes stay known to the caller.
    assert lock.hashes["six"] == SIX_SHA
    assert lock.pins["jh-demo-vcs"] == "0.1.0"


def test_vcs_without_commit_is_kept_with_a_warning(report: dict[str, Any]) -> None:
    for item in report["install"]:
        if "vcs_info" in item["download_info"]:
            del item["download_info"]["vcs_info"]["commit_id"]
    lock = parse_pip_report(report)
    assert "jh-demo-vcs @ git+file:///tmp/jh-demo-vcs" in _body(lock)
    assert any("no commit" in w for w in lock.warnings)


def test_lines_are_sorted_and_names_canonical(report: dict[str, Any]) -> None:
    lock = parse_pip_report(report)
    names = [line.split()[0].split("==")[0] for line in _body(lock)]
    assert names == sorted(names)
    assert "pyyaml==6.0.4" in _body(lock)


def test_sdist_and_legacy_hash_field_are_handled(report: dict[str, Any]) -> None:
    report = _without_vcs(report)
    six = next(i for i in report["install"] if i["metadata"]["name"] == "six")
    six["download_info"]["url"] = "https://example.invalid/six-1.17.0.tar.gz"
    del six["download_info"]["archive_info"]["hashes"]  # older pip: only "hash": "sha256=..."
    lock = parse_pip_report(report)
    assert f"six==1.17.0 --hash=sha256:{SIX_SHA}" in _body(lock)
    assert any("six==1.17.0 is a source distribution" in w for w in lock.warnings)


def test_empty_and_unknown_reports() -> None:
    assert parse_pip_report({"version": "1", "install": []}) == PipLock("", {}, [])
    with pytest.raises(ValueError, match="unsupported pip report version"):
        parse_pip_report({"version": "0", "install": []})


def test_config_from_settings_and_pip_args(tmp_path: Path) -> None:
    from jh_pipeline.settings import EndpointSettings

    assert PipIndexConfig.of() == PipIndexConfig(DEFAULT_INDEX_URL, None)
    endpoints = EndpointSettings.from_environ(
        {"JH_PIP_INDEX_URL": "https://mirror.example/simple", "JH_EXTRA_CA_BUNDLE": "/ca.pem"}
    )
    config = PipIndexConfig.of(endpoints.pip_index_url, endpoints.extra_ca_bundle)
    args = pip_args(tmp_path / "r.txt", tmp_path / "report.json", config, python_version="3.12", target_dir=tmp_path)
    assert args[:3] == ["install", "--dry-run", "--ignore-installed"]
    assert args[args.index("--index-url") + 1] == "https://mirror.example/simple"
    assert args[args.index("--cert") + 1] == "/ca.pem"
    assert args[args.index("--python-version") + 1] == "3.12"
    assert "--only-binary=:all:" in args and "--target" in args
    fallback = pip_args(tmp_path / "r.txt", tmp_path / "report.json", config, python_version=None, target_dir=None)
    assert "--only-binary=:all:" not in fallback and "--python-version" not in fallback


def test_pip_environment_drops_machine_specific_settings() -> None:
    env = pip_environment(
        {"PATH": "/bin", "PIP_INDEX_URL": "x", "PIP_FIND_LINKS": "/opt/wheels", "PIP_CONSTRAINT": "c", "PIP_CERT": "/ca"}
    )
    assert env["PIP_CONFIG_FILE"] == os.devnull
    assert env["PIP_CERT"] == "/ca" and env["PATH"] == "/bin"
    assert not {"PIP_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONSTRAINT"} & env.keys()


def test_mismatched_origins_are_rejected() -> None:
    with pytest.raises(ValueError, match="origins"):
        resolve_pip_lock(["six"], "3.11", origins=[])


# ---------------------------------------------------------------- real pip runs against the index


def _real_config() -> PipIndexConfig:
    config = PipIndexConfig.of(os.environ.get("JH_PIP_INDEX_URL", ""), os.environ.get("JH_EXTRA_CA_BUNDLE", ""))
    system_bundle = "/etc/ssl/certs/ca-certificates.crt"  # trusts a TLS-inspecting proxy's CA if any
    if config.ca_bundle is None and Path(system_bundle).exists():
        return PipIndexConfig(config.index_url, system_bundle)
    return config


def test_real_resolution_pins_and_hashes() -> None:
    lock = resolve_pip_lock(
        ["six", "packaging>=23"], "3.11", origins=["common:1", "class:1"], config=_real_config()
    )
    assert set(lock.pins) == {"six", "packaging"}
    assert int(lock.pins["packaging"].split(".")[0]) >= 23
    body = _body(lock)
    assert f"six=={lock.pins['six']} --hash=sha256:{lock.hashes['six']}" in body
    assert all(len(lock.hashes[n]) == 64 for n in lock.pins)
    assert lock.warnings == []


def test_real_resolution_failure_names_the_origin() -> None:
    with pytest.raises(PipResolveError) as err:
        resolve_pip_lock(
            ["six", "jh-pipeline-no-such-package-4f1c==1.0"],
            "3.11",
            origins=["requirements/common/requirements.pip.txt:3", "requirements/classes/x/requirements.pip.txt:7"],
            config=_real_config(),
            timeout=300,
        )
    message = str(err.value)
    assert "requirements/classes/x/requirements.pip.txt:7" in message
    assert "requirements.pip.txt:3" not in message  # six is fine, so its origin is not blamed
    assert "jh-pipeline-no-such-package-4f1c" in err.value.stderr_tail
