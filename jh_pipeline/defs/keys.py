"""Asset keys, check names and tags of the graph: one module every other defs module imports."""

from __future__ import annotations

import dagster as dg

# One group per class (`classes/<class>`, nested in the UI) and one for the shared assets. Nested
# groups are not matched by AssetSelection.groups("classes"): select classes by their `class` tag.
GROUP = "classes"
COMMON_GROUP = "common"


def class_group(key: str) -> str:
    return f"{GROUP}/{key}"


COMMON_KEY = dg.AssetKey(["common", "requirements"])
SERVER_ENV_KEY = dg.AssetKey(["common", "server_env"])
SERVER_IMAGE_KEY = dg.AssetKey(["common", "server_image"])
# Where the server env's files go in the store (<semester>/common/...): `common` is no class name.
COMMON_SET = "common"
SMOKE_CHECK = "smoke_tests"
SERVER_CHECK = "server_checks"
# Asset tag of `<class>/production`: schedules and sensors must leave it out (it moves only when an
# operator promotes or rolls back). Select everything else with
# AssetSelection.all() - AssetSelection.tag(ROLE_TAG, PRODUCTION_ROLE).
ROLE_TAG = "jh_pipeline/role"
PRODUCTION_ROLE = "production"


def class_keys(key: str) -> dict[str, dg.AssetKey]:
    return {name: dg.AssetKey([key, name]) for name in ("requirements", "conda_env", "julia_env", "image", "release", "production")}
