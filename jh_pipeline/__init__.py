"""jh_pipeline: per-course JupyterHub images and reproducible environment files, as a Dagster code location."""
