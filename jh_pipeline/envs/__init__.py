"""Conda environment solving, locking, rendering and installing (py-rattler)."""

from jh_pipeline.envs.conda import (
    DEFAULT_VIRTUAL_PACKAGES,
    STUDENT_PLATFORMS,
    CondaEnvError,
    InvalidSpecError,
    Solution,
    UnsatisfiableError,
    check_platform,
    install_lock,
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
    "install_lock",
    "lock_hash",
    "render_environment_nb_yml",
    "render_environment_yml",
    "render_explicit_lock",
    "render_packages_txt",
    "solve_lock",
    "write_env_files",
    "write_lock_file",
]
