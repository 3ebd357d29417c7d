"""Where a class is parsed and validated: the typed model of `requirements/`."""

from jh_pipeline.catalog.config import ClassConfig, Target
from jh_pipeline.catalog.findings import Finding, Severity
from jh_pipeline.catalog.load import load_catalog
from jh_pipeline.catalog.merge import class_conda_specs, class_pip_requirements
from jh_pipeline.catalog.model import Catalog, ClassSpec, CommonLists
from jh_pipeline.catalog.settings import CatalogSettings, load_catalog_settings

__all__ = [
    "Catalog", "CatalogSettings", "ClassConfig", "ClassSpec", "CommonLists", "Finding", "Severity", "Target",
    "class_conda_specs", "class_pip_requirements", "load_catalog", "load_catalog_settings",
]
