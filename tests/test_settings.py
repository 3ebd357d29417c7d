"""jh_pipeline.yaml: typed site settings, errors that name the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from jh_pipeline.settings import ServerStack, Settings, SettingsError, load_settings

REPO = Path(__file__).resolve().parents[1]


def test_repository_settings_load_and_pin_the_hub_series() -> None:
    settings = load_settings(REPO)
    assert settings.server.hub_version == "6.1"
    assert "jupyterhub-singleuser 6.1.*" in settings.server.conda_specs()
    assert settings.server.repository == "jupyter-server"


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JH_CONFIG", raising=False)
    assert load_settings(tmp_path) == Settings()
    specs = ServerStack().conda_specs()
    assert specs[0].startswith("jupyterlab ") and "ipykernel" in specs  # an empty pin is "any version"
    assert "nbconvert >=7.16.5" in specs  # 7.16.4 breaks HTML export with mistune 3.4


@pytest.mark.parametrize(("text", "message"), [
    ("server:\n  hub_version: 6.1\n", "quote versions"),  # YAML reads 6.1 as a number
    ("server:\n  jupyterlab_version: '4.6.*'\n", "jupyterlab_version"),  # misspelt: never ignored
    ("- a list\n", "mapping"),
    ("server: [\n", "not valid YAML"),
])
def test_bad_settings_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    monkeypatch.delenv("JH_CONFIG", raising=False)
    (tmp_path / "jh_pipeline.yaml").write_text(text)
    with pytest.raises(SettingsError, match=message) as info:
        load_settings(tmp_path)
    assert str(tmp_path / "jh_pipeline.yaml") in str(info.value)


def test_jh_config_names_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "site.yaml"
    other.write_text("server:\n  hub_version: '5.3'\n")
    monkeypatch.setenv("JH_CONFIG", str(other))
    assert load_settings(tmp_path / "nowhere").server.hub_version == "5.3"
    monkeypatch.setenv("JH_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path)


def test_environment_sections_read_their_variables_and_treat_empty_as_unset() -> None:
    from jh_pipeline.settings import DEFAULT_CRAN_REPO, load_pipeline_settings

    settings = load_pipeline_settings(
        Path("/nonexistent"),
        {"JH_CRAN_REPO": "", "JH_REGISTRY": "127.0.0.1:5001", "JH_STORE_TIMEOUT": "2.5", "JULIA_PKG_SERVER": "http://x"},
    )
    assert settings.endpoints.cran_repo == DEFAULT_CRAN_REPO
    assert settings.docker.registry == "127.0.0.1:5001" and settings.docker.from_environment() == {"registry": "JH_REGISTRY"}
    assert settings.store.timeout == 2.5
    assert settings.endpoints.julia_pkg_server == "http://x"
    assert settings.site.server.hub_version  # no jh_pipeline.yaml there: the defaults


def test_a_malformed_number_names_the_variable() -> None:
    from pydantic import ValidationError

    from jh_pipeline.settings import StoreSettings

    with pytest.raises(ValidationError, match="JH_STORE_TIMEOUT"):
        StoreSettings.from_environ({"JH_STORE_TIMEOUT": "soon"})


def test_hub_tag_is_production_or_latest() -> None:
    from pydantic import ValidationError

    from jh_pipeline.settings import DockerSettings

    assert DockerSettings.from_environ({}).hub_tag == "production"
    assert DockerSettings.from_environ({"JH_HUB_TAG": "latest"}).hub_tag == "latest"
    with pytest.raises(ValidationError, match="JH_HUB_TAG"):
        DockerSettings.from_environ({"JH_HUB_TAG": "stable"})
