# One Dockerfile for the shared server image and every class image.
#
#   target `server`   the foundation + the common apt list + the SERVER ENV at /opt/jupyter
#                     (JupyterLab, notebook, jupyterhub-singleuser, nbconvert, the common plugins),
#                     installed from its lock; start-up scripts, health check. Built once, pushed by
#                     content tag, shared by every class (asset common/server_image).
#   targets `base`, `r_lang`, `r_julia`
#                     FROM the server image by digest (SERVER_IMAGE): the class env at
#                     /opt/envs/<class> (conda lock, then the pip lock) first on PATH, the default
#                     `python3` kernel; R and Julia on top.
# Helper stages (never pushed): `tools` (py-rattler, the build-only CA bundle), `server_env`,
# `conda_env`, `pip_packages`.
#
# The classic builder (docker-py; no BuildKit) walks every stage before the target. A class build's
# context therefore holds EMPTY server inputs (build/server/*, build/apt/common.txt): the server
# stages then pass in a few no-op steps, and the class stages build FROM the pulled server image,
# never from a rebuilt one. No RUN --mount, no heredocs.
#
# Build context (jh_pipeline.images.context): Dockerfile, scripts/image/, build/ca/extra-ca.crt,
# build/apt/{common,class}.txt, build/server/{conda-lock.yml,requirements.pip.lock},
# build/conda/conda-lock.yml, build/pip/requirements.pip.lock, build/r/packages.R (+ build/julia/).
# BASE_IMAGE and RATTLER_VERSION defaults live in jh_pipeline (passed as build args); the values
# here only make a bare `docker build` work.

ARG BASE_IMAGE=quay.io/jupyter/docker-stacks-foundation:2024-12-09
# Class targets: the server image, by digest. Its default only keeps the classic builder from
# failing on an empty FROM while building the `server` target.
ARG SERVER_IMAGE=${BASE_IMAGE}

# --- tools: py-rattler and the build-only CA bundle (helper) ------------------------------------
FROM ${BASE_IMAGE} AS tools
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Helper stage, never run as a container: root (numeric, whatever the base image's passwd says).
# hadolint ignore=DL3002
USER 0
COPY scripts/image/build-ca.sh /usr/local/bin/jh-build-ca
ARG EXTRA_CA_BUNDLE=build/ca/extra-ca.crt
COPY ${EXTRA_CA_BUNDLE} /tmp/jh-extra-ca.crt
RUN jh-build-ca /tmp/jh-extra-ca.crt && rm -f /tmp/jh-extra-ca.crt
# py-rattler installs envs from their locks: the library that solved and locked them.
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG RATTLER_VERSION=0.28.0
RUN . /usr/local/share/jh-build-ca/env.sh \
 && python3 -m venv /opt/jh-tools \
 && /opt/jh-tools/bin/python -m pip install --no-cache-dir --disable-pip-version-check \
        "py-rattler==${RATTLER_VERSION}" \
 && rm -rf /root/.cache
COPY scripts/image/install-conda-lock.py /opt/jh-tools/bin/install-conda-lock.py

# --- server_env: the notebook server env from its lock (helper) -------------------------------
FROM tools AS server_env
ARG JH_SERVER_ENV=/opt/jupyter
COPY build/server/conda-lock.yml build/server/requirements.pip.lock /tmp/jh-server/
# Empty lock = a class build: nothing to do (see the header).
RUN mkdir -p "${JH_SERVER_ENV}" \
 && if [ -s /tmp/jh-server/conda-lock.yml ]; then \
        . /usr/local/share/jh-build-ca/env.sh \
     && /opt/jh-tools/bin/python /opt/jh-tools/bin/install-conda-lock.py \
            /tmp/jh-server/conda-lock.yml "${JH_SERVER_ENV}" \
     && if grep -qv -e '^[[:space:]]*#' -e '^[[:space:]]*$' /tmp/jh-server/requirements.pip.lock; then \
            "${JH_SERVER_ENV}/bin/python" -m pip install --no-cache-dir --disable-pip-version-check --no-deps \
                -r /tmp/jh-server/requirements.pip.lock; \
        fi \
     && "${JH_SERVER_ENV}/bin/jupyter" --version; \
    fi \
 && chmod -R a+rX "${JH_SERVER_ENV}" \
 && rm -rf /tmp/jh-server /root/.cache

# --- server: what every class image stands on (target) ----------------------------------------
FROM ${BASE_IMAGE} AS server
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
USER 0
ARG DEBIAN_FRONTEND=noninteractive

# OS packages of every image (requirements/common/apt.txt: git, editors, TeX, pandoc, ...).
COPY scripts/image/apt-install.sh /usr/local/bin/jh-apt-install
COPY build/apt/common.txt /tmp/jh-apt/common.txt
RUN jh-apt-install /tmp/jh-apt/common.txt && rm -rf /tmp/jh-apt

# The server env, root-owned and world-readable (conda-meta too, for `conda list`): students
# install into their class env, never into the server.
ENV JH_SERVER_ENV=/opt/jupyter
COPY --from=server_env /opt/jupyter /opt/jupyter
# Start-up and health (the docker-stacks base-notebook contract; start.sh is the foundation's).
COPY scripts/image/server/start-notebook.py scripts/image/server/start-notebook.sh \
     scripts/image/server/start-singleuser.py scripts/image/server/start-singleuser.sh /usr/local/bin/
COPY scripts/image/server/jupyter_server_config.py scripts/image/server/docker_healthcheck.py /etc/jupyter/
RUN chmod 0755 /usr/local/bin/start-notebook.* /usr/local/bin/start-singleuser.* /etc/jupyter/docker_healthcheck.py
# The server env before CONDA_DIR: the foundation's CONDA_DIR may hold its own `jupyter`.
ENV PATH=${JH_SERVER_ENV}/bin:${PATH}
ARG HUB_VERSION=""
LABEL org.jh-pipeline.hub-version="${HUB_VERSION}" \
      org.jh-pipeline.image="server"
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/bin/sh", "-c", "\"${JH_SERVER_ENV}/bin/python\" /etc/jupyter/docker_healthcheck.py || exit 1"]
EXPOSE 8888
WORKDIR /home/${NB_USER}
# NB_UID is numeric (1000) in docker-stacks-foundation and in the offline stand-in.
# hadolint ignore=DL3066
USER ${NB_UID}
CMD ["start-notebook.py"]

# --- conda_env: the class env from its lock (helper) ------------------------------------------
FROM tools AS conda_env
ARG CLASS_NAME
COPY build/conda/conda-lock.yml /tmp/jh-conda/conda-lock.yml
RUN test -n "${CLASS_NAME}" || { echo "build arg CLASS_NAME is required" >&2; exit 1; }; \
    . /usr/local/share/jh-build-ca/env.sh \
 && /opt/jh-tools/bin/python /opt/jh-tools/bin/install-conda-lock.py \
        /tmp/jh-conda/conda-lock.yml "/opt/envs/${CLASS_NAME}" \
 && "/opt/envs/${CLASS_NAME}/bin/python" -c "import sys; print(sys.prefix, sys.version)" \
 && rm -rf /tmp/jh-conda /root/.cache

# --- pip_packages: the class's pip lock, apart from the conda env (helper) ---------------------
# Installed with the class env's Python into /opt/jh-pip (same layout as the env), then copied
# over the env: a pip change never reinstalls the conda env, and the CA bundle stays here.
# --no-deps: the lock lists every distribution (with hashes, which pip then enforces). An env
# without pip gets the tools' pip pointed at it (pip --python).
FROM conda_env AS pip_packages
# (ARGs are per stage)
ARG CLASS_NAME
COPY build/pip/requirements.pip.lock /tmp/jh-pip/requirements.pip.lock
RUN mkdir -p /opt/jh-pip \
 && env_python="/opt/envs/${CLASS_NAME}/bin/python" \
 && if grep -qv -e '^[[:space:]]*#' -e '^[[:space:]]*$' /tmp/jh-pip/requirements.pip.lock; then \
        . /usr/local/share/jh-build-ca/env.sh \
     && if "${env_python}" -m pip --version >/dev/null 2>&1; then \
            set -- "${env_python}" -m pip; \
        else \
            set -- /opt/jh-tools/bin/python -m pip --python "${env_python}"; \
        fi \
     && "$@" install --no-cache-dir --disable-pip-version-check --no-deps --no-warn-script-location \
            --prefix /opt/jh-pip -r /tmp/jh-pip/requirements.pip.lock; \
    fi \
 && rm -rf /tmp/jh-pip /root/.cache

# --- base: the class image (Python) -----------------------------------------------------------
FROM ${SERVER_IMAGE} AS base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
USER 0
ARG DEBIAN_FRONTEND=noninteractive
# (the server image has it; again here so the class stages also build straight on a foundation)
COPY scripts/image/apt-install.sh /usr/local/bin/jh-apt-install

# MySQL for classes that ask for it (INSTALL_MYSQL=1): MariaDB server + client from the OS and
# start-mysql.sh, which the notebook user runs to start a server on demand (data in ~/.mysql,
# 127.0.0.1 only). Before the class's own layers: classes with the same setting share it.
ARG INSTALL_MYSQL=0
ARG MYSQL_PACKAGES="mariadb-server-core mariadb-client-core"
COPY scripts/image/start-mysql.sh /tmp/jh-mysql/start-mysql.sh
RUN if [ "${INSTALL_MYSQL}" = 1 ]; then \
        echo "${MYSQL_PACKAGES}" > /tmp/jh-mysql/packages \
     && jh-apt-install /tmp/jh-mysql/packages \
     && install -m 0755 /tmp/jh-mysql/start-mysql.sh /usr/local/bin/start-mysql.sh; \
    fi \
 && rm -rf /tmp/jh-mysql

# --- owned by the class ------------------------------------------------------------------------
ARG CLASS_NAME
COPY build/apt/class.txt /tmp/jh-apt/class.txt
RUN jh-apt-install /tmp/jh-apt/class.txt && rm -rf /tmp/jh-apt

# The class env, owned by the notebook user (students `mamba install` / `pip install` into it),
# chowned while copied so no file is stored twice; same path as in the helper stages, so prefixes
# baked into files stay right. Then the pip packages over it, in their own layer.
COPY --from=conda_env --chown=${NB_UID}:${NB_GID} /opt/envs /opt/envs
COPY --from=pip_packages --chown=${NB_UID}:${NB_GID} /opt/jh-pip/ /opt/envs/${CLASS_NAME}/

# The class env is the course environment: first on PATH (terminal python/pip), the active conda
# env (conda/mamba install into it), the only Python kernel (named python3).
ENV JH_CLASS_NAME=${CLASS_NAME} \
    JH_CLASS_ENV=/opt/envs/${CLASS_NAME} \
    CONDA_PREFIX=/opt/envs/${CLASS_NAME} \
    CONDA_DEFAULT_ENV=${CLASS_NAME} \
    PATH=/opt/envs/${CLASS_NAME}/bin:${PATH}
ARG KERNEL_DISPLAY_NAME="Python (${CLASS_NAME})"
ARG REGISTER_KERNEL=1
ARG SQLITE_KERNEL=0
ARG CONDA_CHANNELS=conda-forge
COPY scripts/image/class-env-setup.sh /tmp/jh-class/class-env-setup.sh
RUN KERNEL_DISPLAY_NAME="${KERNEL_DISPLAY_NAME}" REGISTER_KERNEL="${REGISTER_KERNEL}" \
    SQLITE_KERNEL="${SQLITE_KERNEL}" CONDA_CHANNELS="${CONDA_CHANNELS}" bash /tmp/jh-class/class-env-setup.sh \
 && rm -rf /tmp/jh-class /root/.cache /root/.local "/home/${NB_USER}/.cache" \
 && mkdir -p "/home/${NB_USER}" \
 && find "/home/${NB_USER}" -xdev -user 0 -exec chown -h "${NB_UID}:${NB_GID}" {} +

LABEL org.jh-pipeline.image="class" \
      org.jh-pipeline.target="base"
WORKDIR /home/${NB_USER}
# hadolint ignore=DL3066
USER ${NB_UID}

# --- R ---------------------------------------------------------------------------------------
# R is the class env's own (production: conda-forge r-base and r-irkernel from the class lock; the
# hermetic tests' r-base stand-in points bin/R at Debian's r-base-core from an apt list).
FROM base AS r_lang
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
USER 0

# The R kernel `ir`, next to the class's Python kernel, running the class env's R.
ARG R_KERNEL_DISPLAY_NAME=""
RUN if [ ! -x "${JH_CLASS_ENV}/bin/Rscript" ]; then \
        echo "r_lang: ${JH_CLASS_ENV}/bin/Rscript is missing: the class's conda list needs r-base" >&2; exit 1; \
    fi \
 && HOME=/tmp/jh-r-home JH_R_DISPLAY_NAME="${R_KERNEL_DISPLAY_NAME:-R (${JH_CLASS_NAME})}" \
        "${JH_CLASS_ENV}/bin/Rscript" -e "if (!requireNamespace('IRkernel', quietly = TRUE)) \
            stop('IRkernel is not installed for the class env R: add r-irkernel to its conda list'); \
            IRkernel::installspec(name = 'ir', displayname = Sys.getenv('JH_R_DISPLAY_NAME'), \
            user = FALSE, prefix = Sys.getenv('JH_SERVER_ENV'))" \
 && rm -rf /tmp/jh-r-home

# The class's packages.R, through run-packages-r.R: packages come from CRAN_REPO (whatever repos the
# script names), and a package that does not install fails the build, naming it (install.packages
# alone only warns). Installed as root into the R library, then handed to the notebook user.
COPY --from=tools /usr/local/share/jh-build-ca /usr/local/share/jh-build-ca
COPY scripts/image/run-packages-r.R /tmp/jh-r/run-packages-r.R
ARG CRAN_REPO=https://cloud.r-project.org
COPY build/r/packages.R /tmp/jh-r/packages.R
RUN . /usr/local/share/jh-build-ca/env.sh \
 && HOME=/tmp/jh-r-home "${JH_CLASS_ENV}/bin/Rscript" /tmp/jh-r/run-packages-r.R /tmp/jh-r/packages.R "${CRAN_REPO}" \
 && if [ -d "${JH_CLASS_ENV}/lib/R" ]; then \
        find "${JH_CLASS_ENV}/lib/R" -xdev -user 0 -exec chown -h "${NB_UID}:${NB_GID}" {} +; \
    fi \
 && rm -rf /tmp/jh-r /tmp/jh-r-home /tmp/Rtmp* /root/.cache /usr/local/share/jh-build-ca

LABEL org.jh-pipeline.target="r_lang"
# hadolint ignore=DL3066
USER ${NB_UID}

# --- Julia -----------------------------------------------------------------------------------
FROM r_lang AS r_julia
# Julia from a release tarball (URL + sha256 as build args, verified before unpacking), the class's
# locked Project.toml/Manifest.toml instantiated into the default environment, the IJulia kernel.
# Logic in scripts/image/julia/ (install-julia.sh, instantiate.jl, ca-env.sh); the build context
# adds build/julia/{Project,Manifest}.toml (jh_pipeline.images.julia_context).

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
USER 0

# JH_JULIA_URL / JH_JULIA_SHA256 set both (mirrors, air-gapped sites); an empty sha256 fails the build.
ARG JULIA_URL=https://julialang-s3.julialang.org/bin/linux/x64/1.10/julia-1.10.10-linux-x86_64.tar.gz
ARG JULIA_SHA256=6a78a03a71c7ab792e8673dc5cedb918e037f081ceb58b50971dfb7c64c5bf81
ARG EXTRA_CA_BUNDLE=build/ca/extra-ca.crt
COPY ${EXTRA_CA_BUNDLE} /tmp/jh-julia/extra-ca.crt
COPY scripts/image/julia/install-julia.sh scripts/image/julia/ca-env.sh /tmp/jh-julia/
RUN bash /tmp/jh-julia/install-julia.sh \
 && mkdir -p /opt/julia-depot
# --- end of the Julia download (tests/images/test_julia_stage.py builds the stage up to here) ---

# The class environment, exactly as locked, in the default environment of the shared depot
# /opt/julia-depot (environments/v<major.minor>); precompiled for a generic CPU target (the
# docker-stacks values) so the caches are valid on other machines; the `julia` kernel registered
# next to the others. Built as root, chowned to the notebook user in the same layer.
# JULIA_PKG_SERVER_URL (optional): a Pkg server mirror; empty keeps Julia's default.
ARG JULIA_PKG_SERVER_URL=
COPY build/julia/Project.toml build/julia/Manifest.toml /tmp/jh-julia/env/
COPY scripts/image/julia/instantiate.jl /tmp/jh-julia/
RUN . /tmp/jh-julia/ca-env.sh \
 && if [ -n "${JULIA_PKG_SERVER_URL}" ]; then export JULIA_PKG_SERVER="${JULIA_PKG_SERVER_URL}"; fi \
 && case "$(uname -m)" in \
        x86_64) cpu_target="generic;sandybridge,-xsaveopt,clone_all;haswell,-rdrnd,base(1)" ;; \
        aarch64) cpu_target="generic;cortex-a57;thunderx2t99;carmel" ;; \
        *) echo "r_julia: no generic JULIA_CPU_TARGET known for $(uname -m)" >&2; exit 1 ;; \
    esac \
 && mkdir -p /tmp/jh-julia/home /tmp/jh-julia/jupyter \
 && HOME=/tmp/jh-julia/home JUPYTER_DATA_DIR=/tmp/jh-julia/jupyter JUPYTER="${JH_SERVER_ENV}/bin/jupyter" \
    JULIA_DEPOT_PATH=/opt/julia-depot: JULIA_CPU_TARGET="${cpu_target}" JULIA_PKG_PRECOMPILE_AUTO=0 \
    julia --startup-file=no --history-file=no /tmp/jh-julia/instantiate.jl \
        /tmp/jh-julia/env "${JH_SERVER_ENV}/share/jupyter/kernels" julia Julia \
 && rm -rf /opt/julia-depot/logs \
 && chown -R "${NB_UID}:${NB_GID}" /opt/julia-depot \
 && rm -rf /tmp/jh-julia /root/.cache /root/.julia

# At run time the user's own depot comes first (their added packages and logs persist in the home
# volume), then the shared depot with the class environment, then Julia's bundled depots (the
# trailing ':'). `@v#.#` resolves to the first depot that has environments/v<major.minor>, so
# the class environment is the default one as long as the user has not made their own.
ENV JULIA_DEPOT_PATH=/home/${NB_USER}/.julia:/opt/julia-depot:
LABEL org.jh-pipeline.target="r_julia"
# hadolint ignore=DL3066
USER ${NB_UID}
