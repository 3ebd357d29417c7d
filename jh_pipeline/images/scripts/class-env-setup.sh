#!/bin/bash
# Make the class env the course environment of the image (run as root in the class stage):
#   - the class kernel is THE Python kernel: registered as `python3` (notebooks that name python3,
#     as most course material does, open in the class env) with the class's display name, and the
#     server env's own python3 kernelspec is removed, not just hidden;
#   - the xeus-sqlite kernel of the class env is registered when asked for (class.yaml sqlite: true);
#   - conda and mamba install into the class env: CONDA_DIR/.condarc lists the class's channels
#     and /opt/envs as envs dir, and does not activate the base env in shells;
#   - login shells (JupyterLab terminals run `bash -l`) keep the class env first on PATH: Debian's and
#     Ubuntu's /etc/profile reset PATH, /etc/profile.d/ runs after that.
#   - then nothing of the build is left in a home or cache, and the home belongs to the notebook user.
# Environment: JH_CLASS_NAME, JH_CLASS_ENV, JH_SERVER_ENV, CONDA_DIR, NB_USER, NB_UID, NB_GID (image
# ENV); the optional build args KERNEL_DISPLAY_NAME (default "Python (<class>)"), REGISTER_KERNEL
# (0 = envs without ipykernel, test builds), SQLITE_KERNEL (1 = required), CONDA_CHANNELS
# (comma-separated, as the lock was solved from).
set -euo pipefail
KERNEL_DISPLAY_NAME=${KERNEL_DISPLAY_NAME:-Python (${JH_CLASS_NAME})}
JH_SERVER_ENV=${JH_SERVER_ENV:-/opt/jupyter}
kernels="${JH_SERVER_ENV}/share/jupyter/kernels"
mkdir -p "$kernels"
rm -rf "${kernels:?}/python3"
if [ "${REGISTER_KERNEL:-1}" = 1 ]; then
    # HOME: IPython would otherwise leave a root-owned ~/.ipython behind.
    HOME=/tmp/jh-kernel-home "${JH_CLASS_ENV}/bin/python" -m ipykernel install --prefix "${JH_SERVER_ENV}" \
        --name python3 --display-name "${KERNEL_DISPLAY_NAME}"
    rm -rf /tmp/jh-kernel-home
fi
if [ "${SQLITE_KERNEL:-0}" = 1 ]; then
    src="${JH_CLASS_ENV}/share/jupyter/kernels/xsqlite"
    if [ ! -f "$src/kernel.json" ]; then
        echo "sqlite: true, but the class env has no xeus-sqlite kernel ($src)" >&2
        exit 1
    fi
    cp -r "$src" "$kernels/xsqlite"
fi
{
    echo "# Written by the class image build: conda/mamba install into the class env."
    echo "channels:"
    IFS=, read -r -a channels <<<"${CONDA_CHANNELS:-conda-forge}"
    for channel in "${channels[@]}"; do echo "  - ${channel}"; done
    echo "envs_dirs:"
    echo "  - /opt/envs"
    echo "auto_update_conda: false"
    echo "show_channel_urls: true"
    echo "auto_activate_base: false"
} >"${CONDA_DIR}/.condarc"
cat >/etc/profile.d/jh-class-env.sh <<PROFILE
# The class env first, as in the image's ENV (written by the class image build).
export PATH="${JH_CLASS_ENV}/bin:${JH_SERVER_ENV}/bin:${CONDA_DIR}/bin:\${PATH}"
export CONDA_PREFIX="${JH_CLASS_ENV}" CONDA_DEFAULT_ENV="${JH_CLASS_NAME}"
PROFILE
rm -rf /root/.cache /root/.local "/home/${NB_USER}/.cache"
mkdir -p "/home/${NB_USER}"
find "/home/${NB_USER}" -xdev -user 0 -exec chown -h "${NB_UID}:${NB_GID}" {} +
