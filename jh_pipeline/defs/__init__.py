"""Dagster wiring: per-class assets, resources from environment variables, automation."""
