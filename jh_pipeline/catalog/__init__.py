"""Where a class is parsed and validated: the typed model of `requirements/`."""

from jh_pipeline.catalog.config import ClassConfig, Target
from jh_pipeline.catalog.findings import Finding, Severity
from jh_pipeline.catalog.load import load_catalog
from jh_pipeline.catalog.merge import ClassInputs, class_conda_specs, class_inputs, class_pip_requirements
from jh_pipeline.catalog.model import Catalog, ClassSpec, CommonLists
from jh_pipeline.catalog.settings import CatalogSettings, load_catalog_settings

__all__ = [
    "Catalog", "CatalogSettings", "ClassConfig", "ClassInputs", "ClassSpec", "CommonLists", "Finding", "Severity",
    "Target", "class_conda_specs", "class_inputs", "class_pip_requirements", "load_catalog", "load_catalog_settings",
]
