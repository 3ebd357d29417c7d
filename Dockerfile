# One Dockerfile for the shared server image and every class image.
#
#   target `server`   the foundation + the common apt list + the SERVER ENV at /opt/jupyter
#                     (JupyterLab, notebook, jupyterhub-singleuser, nbconvert, the common plugins),
#                     installed from its lock; start-up scripts, health check. Built once, pushed by
#                     content tag, shared by every class (asset common/server_image).
#   targets `base`, `r_lang`, `r_julia`
#                     FROM the server image by digest (SERVER_IMAGE): the class env at
#                     /opt/envs/<class> (conda lock, then the pip lock) first on PATH, the default
#                     `python3` kernel; R and Julia too. Each is a core stage (`class_core`,
#                     `r_core`, `julia_core`) + the same last layers: the pip packages and the class
#                     set-up, so a pip-only change rebuilds no R or Julia layer.
# Helper stages (never part of a class or server image): `ca` (the build-only CA bundle), `tools`
# (py-rattler), `server_env`, `conda_env`, `pip_packages` (pip lock on the env's Python),
# `r_packages` (packages.R on the env's R), `julia_depot` (Julia + the locked environment). Each
# depends only on its own inputs and the targets COPY their results, so a change to one list never
# re-runs another list's step. Only helper stages ever hold the CA bundle. The pipeline pushes
# helper stage images under cache tags (jh_pipeline.images.cache) so that a fresh runner reuses them.
# Each helper stage opens with its own LABEL: the classic builder matches cache-from images by parent
# and instruction, so two stages on one parent (pip_packages and r_packages on conda_env) that began
# alike would take each other's cached layers and then miss on every later step.
#
# The classic builder (docker-py; no BuildKit) walks every stage before the target. A class build's
# context therefore holds EMPTY server inputs (build/server/*, build/apt/common.txt): the server
# stages then pass in a few no-op steps, and the class stages build FROM the pulled server image,
# never from a rebuilt one. No RUN --mount, no heredocs.
#
# Build context (jh_pipeline.images.context): Dockerfile, scripts/image/ (the package's
# jh_pipeline/images/scripts/), build/ca/extra-ca.crt,
# build/apt/{common,class}.txt, build/server/{conda-lock.yml,requirements.pip.lock},
# build/conda/conda-lock.yml, build/pip/requirements.pip.lock, build/r/packages.R (+ build/julia/).
# Build args without a default here: BASE_IMAGE, PIP_INDEX_URL, RATTLER_VERSION, CRAN_REPO (R) and
# JULIA_URL/JULIA_SHA256 (Julia). Their defaults have one home, jh_pipeline/settings.py, and every
# build passes them (jh_pipeline.images.context.build_args).

ARG BASE_IMAGE
# Class targets: the server image, by digest. Its default only keeps the classic builder from
# failing on an empty FROM while building the `server` target.
ARG SERVER_IMAGE=${BASE_IMAGE}

# --- ca: the build-only CA bundle (helper) ------------------------------------------------------
# Every helper stage that downloads stands on this one; no class or server target copies from it,
# so the bundle is in no layer of a pushed image (tests/defs/test_image_r_e2e.py greps for it).
FROM ${BASE_IMAGE} AS ca
LABEL org.jh-pipeline.stage=ca
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Helper stage, never run as a container: root (numeric, whatever the base image's passwd says).
# hadolint ignore=DL3002
USER 0
COPY scripts/image/build-ca.sh /usr/local/bin/jh-build-ca
ARG EXTRA_CA_BUNDLE=build/ca/extra-ca.crt
COPY ${EXTRA_CA_BUNDLE} /tmp/jh-extra-ca.crt
RUN jh-build-ca /tmp/jh-extra-ca.crt && rm -f /tmp/jh-extra-ca.crt

# --- tools: py-rattler (helper) -----------------------------------------------------------------
FROM ca AS tools
LABEL org.jh-pipeline.stage=tools
# py-rattler installs envs from their locks: the library that solved and locked them.
ARG PIP_INDEX_URL
ARG RATTLER_VERSION
RUN : "${RATTLER_VERSION:?build arg RATTLER_VERSION is required (jh_pipeline.images.context.build_args)}" \
 && : "${PIP_INDEX_URL:?build arg PIP_INDEX_URL is required (jh_pipeline.images.context.build_args)}" \
 && . /usr/local/share/jh-build-ca/env.sh \
 && python3 -m venv /opt/jh-tools \
 && /opt/jh-tools/bin/python -m pip install --no-cache-dir --disable-pip-version-check \
        "py-rattler==${RATTLER_VERSION}" \
 && rm -rf /root/.cache
COPY scripts/image/install-conda-lock.py /opt/jh-tools/bin/install-conda-lock.py

# --- server_env: the notebook server env from its lock (helper) -------------------------------
FROM tools AS server_env
LABEL org.jh-pipeline.stage=server_env
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
LABEL org.jh-pipeline.stage=conda_env
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
LABEL org.jh-pipeline.stage=pip_packages
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

# --- class_core: the class image up to its pip layer -------------------------------------------
# The class targets are a core (this one, r_core, julia_core) + the same last layers: the pip
# packages and the class set-up. A pip-only change (the most frequent one) then rebuilds only
# those, never the R kernel, the R library or the Julia depot layers of an R or Julia class.
FROM ${SERVER_IMAGE} AS class_core
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Root until the target's last line (a core is never run as a container).
# hadolint ignore=DL3002
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
# baked into files stay right.
COPY --from=conda_env --chown=${NB_UID}:${NB_GID} /opt/envs /opt/envs

# The class env is the course environment: first on PATH (terminal python/pip), the active conda
# env (conda/mamba install into it).
ENV JH_CLASS_NAME=${CLASS_NAME} \
    JH_CLASS_ENV=/opt/envs/${CLASS_NAME} \
    CONDA_PREFIX=/opt/envs/${CLASS_NAME} \
    CONDA_DEFAULT_ENV=${CLASS_NAME} \
    PATH=/opt/envs/${CLASS_NAME}/bin:${PATH}
# Run last by each target: the class env becomes the only Python kernel (python3), conda's env and
# the login shells' first PATH entry.
COPY scripts/image/class-env-setup.sh /usr/local/lib/jh-pipeline/class-env-setup.sh
LABEL org.jh-pipeline.image="class"
WORKDIR /home/${NB_USER}

# --- base: the class image (Python): class_core + the pip packages + the class set-up -------
FROM class_core AS base
ARG CLASS_NAME
# The pip packages over the class env, in their own layer (after every other class layer).
COPY --from=pip_packages --chown=${NB_UID}:${NB_GID} /opt/jh-pip/ /opt/envs/${CLASS_NAME}/
# The class set-up (the script reads these build args from its environment).
ARG KERNEL_DISPLAY_NAME
ARG REGISTER_KERNEL
ARG SQLITE_KERNEL
ARG CONDA_CHANNELS
RUN bash /usr/local/lib/jh-pipeline/class-env-setup.sh
LABEL org.jh-pipeline.target="base"
# hadolint ignore=DL3066
USER ${NB_UID}

# --- r_packages: the R library of packages.R (helper) -----------------------------------------
# Depends only on the class env (its R), the class's apt list (system libraries R packages compile
# against; the hermetic r-base stand-in's R itself) and packages.R + the CRAN setting: a pip change
# never re-runs it. Installed by run-packages-r.R from CRAN_REPO (whatever repos the script names);
# a package that does not install fails the build, naming it (install.packages alone only warns).
# The library goes to its final path (R_LIBS, first in .libPaths()), so the target copies it as is.
# After `base` in this file: the classic builder walks every stage before the target, and a base
# class never needs this one.
FROM conda_env AS r_packages
LABEL org.jh-pipeline.stage=r_packages
ARG CLASS_NAME
ARG DEBIAN_FRONTEND=noninteractive
COPY scripts/image/apt-install.sh /usr/local/bin/jh-apt-install
COPY build/apt/class.txt /tmp/jh-apt/class.txt
RUN jh-apt-install /tmp/jh-apt/class.txt && rm -rf /tmp/jh-apt
COPY scripts/image/run-packages-r.R /tmp/jh-r/run-packages-r.R
ARG CRAN_REPO
COPY build/r/packages.R /tmp/jh-r/packages.R
RUN lib="/opt/envs/${CLASS_NAME}/lib/R/class-library" \
 && mkdir -p "${lib}" \
 && if [ -s /tmp/jh-r/packages.R ]; then \
        : "${CRAN_REPO:?build arg CRAN_REPO is required (jh_pipeline.images.context.build_args)}" \
     && . /usr/local/share/jh-build-ca/env.sh \
     && R_LIBS="${lib}" HOME=/tmp/jh-r-home \
            "/opt/envs/${CLASS_NAME}/bin/Rscript" /tmp/jh-r/run-packages-r.R /tmp/jh-r/packages.R "${CRAN_REPO}"; \
    fi \
 && rm -rf /tmp/jh-r /tmp/jh-r-home /tmp/Rtmp* /root/.cache

# --- r_core: class_core + the R kernel and the R library ----------------------------------------
# R is the class env's own (production: conda-forge r-base and r-irkernel from the class lock; the
# hermetic tests' r-base stand-in points bin/R at Debian's r-base-core from an apt list).
FROM class_core AS r_core

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

# packages.R's library, owned by the notebook user (students install.packages into it), first on
# R's library path for the kernel, Rscript and terminals alike.
ARG CLASS_NAME
COPY --from=r_packages --chown=${NB_UID}:${NB_GID} /opt/envs/${CLASS_NAME}/lib/R/class-library \
     /opt/envs/${CLASS_NAME}/lib/R/class-library
ENV R_LIBS=/opt/envs/${CLASS_NAME}/lib/R/class-library

# --- r_lang: the class image with R: r_core + the pip packages + the class set-up ---------------
FROM r_core AS r_lang
ARG CLASS_NAME
# The pip packages over the class env, in their own layer (after every other class layer).
COPY --from=pip_packages --chown=${NB_UID}:${NB_GID} /opt/jh-pip/ /opt/envs/${CLASS_NAME}/
# The class set-up (the script reads these build args from its environment).
ARG KERNEL_DISPLAY_NAME
ARG REGISTER_KERNEL
ARG SQLITE_KERNEL
ARG CONDA_CHANNELS
RUN bash /usr/local/lib/jh-pipeline/class-env-setup.sh
LABEL org.jh-pipeline.target="r_lang"
# hadolint ignore=DL3066
USER ${NB_UID}

# --- julia_depot: Julia and the class's Julia environment (helper) -----------------------------
# Depends only on the Julia release and the class's locked Project.toml/Manifest.toml. Julia from
# a release tarball (URL + sha256 as build args, verified before unpacking), the environment
# instantiated into the default environment of the shared depot /opt/julia-depot, the IJulia
# kernelspec written aside; the r_julia target copies all three. Same paths as in the target:
# precompile caches and kernel.json name them. Logic in scripts/image/julia/ (install-julia.sh,
# instantiate.jl; the CA bundle is the `ca` stage's); the build context adds build/julia/{Project,Manifest}.toml
# (jh_pipeline.images.julia_context).
FROM ca AS julia_depot
LABEL org.jh-pipeline.stage=julia_depot
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# (again here: tests/images/test_julia_stage.py builds this stage's download on the foundation)
# hadolint ignore=DL3002
USER 0
# JH_JULIA_URL / JH_JULIA_SHA256 set both (mirrors, air-gapped sites); an empty sha256 fails the build.
ARG JULIA_URL
ARG JULIA_SHA256
COPY scripts/image/julia/install-julia.sh /tmp/jh-julia/
RUN JULIA_INSTALL_DIR=/opt/julia bash /tmp/jh-julia/install-julia.sh \
 && mkdir -p /opt/julia-depot
# --- end of the Julia download (tests/images/test_julia_stage.py builds the stage up to here) ---

# Precompiled for a generic CPU target (the docker-stacks values) so the caches are valid on other
# machines. JULIA_PKG_SERVER_URL (optional): a Pkg server mirror; empty keeps Julia's default.
# JUPYTER: the server env's jupyter of the target image (IJulia records it; not run here).
ARG JULIA_PKG_SERVER_URL=
COPY build/julia/Project.toml build/julia/Manifest.toml /tmp/jh-julia/env/
COPY scripts/image/julia/instantiate.jl /tmp/jh-julia/
RUN . /usr/local/share/jh-build-ca/env.sh \
 && if [ -n "${JULIA_PKG_SERVER_URL}" ]; then export JULIA_PKG_SERVER="${JULIA_PKG_SERVER_URL}"; fi \
 && case "$(uname -m)" in \
        x86_64) cpu_target="generic;sandybridge,-xsaveopt,clone_all;haswell,-rdrnd,base(1)" ;; \
        aarch64) cpu_target="generic;cortex-a57;thunderx2t99;carmel" ;; \
        *) echo "julia_depot: no generic JULIA_CPU_TARGET known for $(uname -m)" >&2; exit 1 ;; \
    esac \
 && mkdir -p /tmp/jh-julia/home /tmp/jh-julia/jupyter /opt/jh-julia-kernels \
 && HOME=/tmp/jh-julia/home JUPYTER_DATA_DIR=/tmp/jh-julia/jupyter JUPYTER=/opt/jupyter/bin/jupyter \
    JULIA_DEPOT_PATH=/opt/julia-depot: JULIA_CPU_TARGET="${cpu_target}" JULIA_PKG_PRECOMPILE_AUTO=0 \
    julia --startup-file=no --history-file=no /tmp/jh-julia/instantiate.jl \
        /tmp/jh-julia/env /opt/jh-julia-kernels julia Julia \
 && rm -rf /opt/julia-depot/logs /tmp/jh-julia /root/.cache /root/.julia

# --- julia_core: r_core + Julia and the class's Julia depot ------------------------------------
FROM r_core AS julia_core
COPY --from=julia_depot /opt/julia /opt/julia
# The shared depot, owned by the notebook user (chowned while copied: stored once).
COPY --from=julia_depot --chown=${NB_UID}:${NB_GID} /opt/julia-depot /opt/julia-depot
COPY --from=julia_depot /opt/jh-julia-kernels/ ${JH_SERVER_ENV}/share/jupyter/kernels/
RUN ln -sfn /opt/julia/bin/julia /usr/local/bin/julia

# At run time the user's own depot comes first (their added packages and logs persist in the home
# volume), then the shared depot with the class environment, then Julia's bundled depots (the
# trailing ':'). `@v#.#` resolves to the first depot that has environments/v<major.minor>, so
# the class environment is the default one as long as the user has not made their own.
ENV JULIA_DEPOT_PATH=/home/${NB_USER}/.julia:/opt/julia-depot:

# --- r_julia: the class image with R and Julia: julia_core + the pip packages + the class set-up ---
FROM julia_core AS r_julia
ARG CLASS_NAME
# The pip packages over the class env, in their own layer (after every other class layer).
COPY --from=pip_packages --chown=${NB_UID}:${NB_GID} /opt/jh-pip/ /opt/envs/${CLASS_NAME}/
# The class set-up (the script reads these build args from its environment).
ARG KERNEL_DISPLAY_NAME
ARG REGISTER_KERNEL
ARG SQLITE_KERNEL
ARG CONDA_CHANNELS
RUN bash /usr/local/lib/jh-pipeline/class-env-setup.sh
LABEL org.jh-pipeline.target="r_julia"
# hadolint ignore=DL3066
USER ${NB_UID}
