"""`<class>/release` through Dagster on the session's demo release: the set, the record, the hub
settings pinned to the digest the registry reports, the index, and a rerun that does nothing."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from jh_pipeline.images.resource import DockerResource
from jh_pipeline.release.hub import Z2JH_VALUES
from jh_pipeline.release.records import read_record
from jh_pipeline.release.index import indexed_sets
from tests.defs.e2e import E2E, metadata, run_class
from tests.support.common import SEMESTER

pytestmark = pytest.mark.docker


def test_release_records_pins_and_links_the_immutable_set(demo_e2e: E2E, demo_release: dg.ExecuteInProcessResult) -> None:
    assert demo_release.success
    image = metadata(demo_release, "demo/image")
    release = metadata(demo_release, "demo/release")
    tag, store = image["image_tag"], demo_e2e.store
    repository = image["ref"].rsplit(":", 1)[0]
    reported = DockerResource(registry=demo_e2e.registry).remote_digest(f"{repository}:latest")
    assert release["digest"] == reported == image["digest"]

    record = read_record(store, SEMESTER, "demo", tag)
    assert record is not None and record.digest == reported and record.size_bytes > 100e6
    assert record.packages["pip:tabulate"] == "0.9.0" and "conda:attrs" in record.packages
    values = yaml.safe_load(store.read_bytes(f"{SEMESTER}/demo/latest/{Z2JH_VALUES}"))
    assert values["singleuser"]["image"] == {"name": repository, "tag": f"{tag}@{reported}"}
    readme = store.read_bytes(f"{SEMESTER}/demo/past/{tag}/conda/README.md").decode()
    assert f"`{SEMESTER}/demo/past/{tag}/conda/`" in readme  # the README names its permanent folder

    index = store.read_bytes(f"{SEMESTER}/index.html").decode()
    assert f'href="demo/past/{tag}/conda/environment.yml"' in index and "/latest/" not in index
    assert indexed_sets(store, SEMESTER)["demo"] == {"latest": tag}

    again = run_class(demo_e2e, "demo", ("release",))  # a fresh instance: the image step's record is gone
    assert not again.success  # release reads what the image step recorded, it never plans again
    again = run_class(demo_e2e, "demo", ("image", "release"))
    assert again.success and metadata(again, "demo/release")["skipped"] is True
