"""Conda environment solving, locking and rendering (py-rattler)."""

from jh_pipeline.envs.conda import (
    DEFAULT_VIRTUAL_PACKAGES,
    STUDENT_PLATFORMS,
    CondaEnvError,
    InvalidSpecError,
    Solution,
    UnsatisfiableError,
    check_platform,
    lock_hash,
    render_environment_nb_yml,
    render_environment_yml,
    render_explicit_lock,
    render_packages_txt,
    solve_lock,
    write_env_files,
    write_lock_file,
)

__all__ = [
    "DEFAULT_VIRTUAL_PACKAGES",
    "STUDENT_PLATFORMS",
    "CondaEnvError",
    "InvalidSpecError",
    "Solution",
    "UnsatisfiableError",
    "check_platform",
    "lock_hash",
    "render_environment_nb_yml",
    "render_environment_yml",
    "render_explicit_lock",
    "render_packages_txt",
    "solve_lock",
    "write_env_files",
    "write_lock_file",
]
