"""Write the Dagster instance config: deploy/dagster.yaml with the integer settings Dagster cannot
read from the environment itself taken from JH_* variables (unset or empty: the file's value).

    python3 scripts/deploy/render_instance.py deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"

Every other setting that varies by site is an `env:` reference inside the file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# Environment variable -> path in the instance config.
OVERRIDES: dict[str, tuple[str, ...]] = {
    "JH_MAX_CONCURRENT_RUNS": ("run_coordinator", "config", "max_concurrent_runs"),
    "JH_RUN_MONITOR_POLL_SECONDS": ("run_monitoring", "poll_interval_seconds"),
    "JH_RUN_START_TIMEOUT_SECONDS": ("run_monitoring", "start_timeout_seconds"),
    "JH_RUN_CANCEL_TIMEOUT_SECONDS": ("run_monitoring", "cancel_timeout_seconds"),
    "JH_RUN_MAX_RUNTIME_SECONDS": ("run_monitoring", "max_runtime_seconds"),
    "JH_RUN_MAX_RETRIES": ("run_retries", "max_retries"),
}


def render(config: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The config with the overrides set in `env` applied (pure; raises ValueError naming the variable)."""
    for var, path in OVERRIDES.items():
        text = env.get(var, "").strip()
        if not text:
            continue
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{var}={text!r}: a whole number is required") from None
        node = config
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return config


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(argv[1]), Path(argv[2])
    try:
        config = render(yaml.safe_load(source.read_text()) or {}, os.environ)
    except ValueError as error:
        print(f"render_instance: {error}", file=sys.stderr)
        return 1
    target.write_text(f"# Written from {source} by {Path(argv[0]).name}: edit that file, not this one.\n"
                      + yaml.safe_dump(config, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
