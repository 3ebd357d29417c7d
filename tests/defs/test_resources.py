"""Resources built from the settings model: backend choice, validation messages, EnvVar wiring, inside Dagster."""

from __future__ import annotations

import uuid
from pathlib import Path

import dagster as dg
import pytest

from jh_pipeline.defs.resources import (
    ArtifactStoreResource,
    StoreConfigError,
    open_store,
    resource_config,
    resources_from_settings,
)
from jh_pipeline.settings import EndpointSettings, StoreSettings, load_pipeline_settings
from jh_pipeline.store import GCSStore, LocalStore, make_gcs_client
from tests.store.conftest import BUCKET, emulator_env  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in StoreSettings.variables().values():
        monkeypatch.delenv(var, raising=False)


def store_resource_from_env() -> ArtifactStoreResource:
    resource = resources_from_settings(load_pipeline_settings(Path(".")))["store"]
    assert isinstance(resource, ArtifactStoreResource)
    return resource


def _init_error(resource: ArtifactStoreResource) -> str:
    with (
        pytest.raises(dg.DagsterResourceFunctionError) as info,
        dg.build_resources({"store": resource}),
    ):
        pass
    return str(info.value.__cause__)


def test_gcs_without_bucket_names_the_variable() -> None:
    with pytest.raises(StoreConfigError, match="JH_GCS_BUCKET"):
        ArtifactStoreResource(backend="gcs").get_store()
    assert "JH_GCS_BUCKET" in _init_error(ArtifactStoreResource(backend="gcs"))


def test_unknown_backend_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StoreConfigError, match="JH_STORE_BACKEND"):
        ArtifactStoreResource(backend="s3").get_store()
    monkeypatch.setenv("JH_STORE_BACKEND", "azure")
    assert "JH_STORE_BACKEND" in _init_error(store_resource_from_env())


def test_env_defaults_to_local_under_dagster_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("JH_GCS_PREFIX", "")  # set but empty counts as unset
    with dg.build_resources({"store": store_resource_from_env()}) as res:
        store = res.store.get_store()
    assert isinstance(store, LocalStore) and store.root == tmp_path / "jh_artifacts"


def test_env_store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JH_STORE_DIR", str(tmp_path / "envs"))
    with dg.build_resources({"store": store_resource_from_env()}) as res:
        store = res.store.get_store()
    assert isinstance(store, LocalStore) and store.root == tmp_path / "envs"


def test_env_gcs_publishes_from_an_asset(
    emulator_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"res-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("JH_STORE_BACKEND", "GCS")
    monkeypatch.setenv("JH_GCS_BUCKET", BUCKET)
    monkeypatch.setenv("JH_GCS_PREFIX", prefix)

    @dg.asset
    def env_files(artifact_store: ArtifactStoreResource) -> None:
        store = artifact_store.get_store()
        assert isinstance(store, GCSStore)
        store.publish_set("summer-2026", "ccv_bootcamp", "f00d", {"conda/environment.yml": b"x"})
        store.switch_latest("summer-2026", "ccv_bootcamp", "f00d")

    result = dg.materialize([env_files], resources={"artifact_store": store_resource_from_env()})
    assert result.success
    blob = make_gcs_client().bucket(BUCKET).get_blob(
        f"{prefix}/summer-2026/ccv_bootcamp/latest/MANIFEST.json"
    )
    assert blob is not None and b'"set_id": "f00d"' in blob.download_as_bytes()


def test_values_set_in_the_environment_reach_resources_as_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JH_PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("JH_STORE_TIMEOUT", "4")
    settings = load_pipeline_settings(Path("."))
    config = resource_config(settings.endpoints)
    assert config["pip_index_url"] == dg.EnvVar("JH_PIP_INDEX_URL")  # the UI shows the variable
    assert config["cran_repo"] == EndpointSettings().cran_repo  # unset: the default, as a value
    assert resource_config(settings.store)["timeout"] == 4.0  # not text: passed as the value
    with dg.build_resources(resources_from_settings(settings)) as res:
        assert res.endpoints.pip_index_url == "http://127.0.0.1:9/simple"
        assert res.store.timeout == 4.0


def test_store_timeout_comes_from_the_settings() -> None:
    settings = StoreSettings.from_environ({"JH_STORE_BACKEND": "gcs", "JH_GCS_BUCKET": "jh-envs", "JH_STORE_TIMEOUT": "7.5"})
    store = open_store(settings)
    assert isinstance(store, GCSStore) and store.timeout == 7.5
