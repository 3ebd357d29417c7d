#!/bin/bash
# Entrypoint (under tini): the docker-stacks start-up contract, written for the hermetic foundation.
#   as root:     rename jovyan to NB_USER (home follows), give it NB_UID/NB_GID, CHOWN_HOME(_OPTS),
#                CHOWN_EXTRA(_OPTS), GRANT_SUDO, then run the command as that user;
#   as anyone else: add a passwd entry for an unknown uid, warn about what only root could change.
#   Always: NB_UMASK, hooks in start-notebook.d (first) and before-notebook.d (last, as root when
#   started as root), JUPYTER_ENV_VARS_TO_UNSET (after the hooks, which may still need them).
# No command: start-notebook.py (the server image's), or bash where there is none.
set -e

log() {
    # Warnings and errors always; the rest unless JUPYTER_DOCKER_STACKS_QUIET is set.
    if [[ "$1" == WARNING:* || "$1" == ERROR:* || -z "${JUPYTER_DOCKER_STACKS_QUIET:-}" ]]; then
        echo "$*" >&2
    fi
}
is_yes() { [[ "$1" == 1 || "$1" == yes ]]; }
# shellcheck source=run-hooks.sh
run_hooks() { source /usr/local/bin/run-hooks.sh "$1"; }

unset_requested_vars() {
    local name names
    IFS=, read -r -a names <<<"${JUPYTER_ENV_VARS_TO_UNSET:-}"
    for name in "${names[@]}"; do
        log "Unsetting ${name} (JUPYTER_ENV_VARS_TO_UNSET)"
        unset "$name"
    done
    unset JUPYTER_ENV_VARS_TO_UNSET
}

log "Entered start.sh with args: $*"
if (($# == 0)); then
    if command -v start-notebook.py >/dev/null; then set -- start-notebook.py; else set -- bash; fi
fi
NB_USER=${NB_USER:-jovyan}
NB_UID=${NB_UID:-1000}
NB_GID=${NB_GID:-100}
if [[ -n "${NB_UMASK:-}" ]]; then
    umask "$NB_UMASK"
fi
run_hooks /usr/local/bin/start-notebook.d

if [[ "$(id -u)" == 0 ]]; then
    if [[ "$NB_USER" != root ]]; then
        if ! id -u "$NB_USER" >/dev/null 2>&1; then
            if ! id -u jovyan >/dev/null 2>&1; then
                log "ERROR: neither jovyan nor ${NB_USER} exists: cannot rename the notebook user"
                exit 1
            fi
            log "Renaming user jovyan to ${NB_USER}"
            usermod --login "$NB_USER" --home "/home/${NB_USER}" jovyan
        fi
        if [[ "$NB_UID" != "$(id -u "$NB_USER")" || "$NB_GID" != "$(id -g "$NB_USER")" ]]; then
            log "Setting ${NB_USER}'s uid:gid to ${NB_UID}:${NB_GID}"
            if ! getent group "$NB_GID" >/dev/null; then
                groupadd --non-unique --gid "$NB_GID" "${NB_GROUP:-$NB_USER}"
            fi
            # Re-created rather than usermod'ed: usermod --uid would walk the (maybe huge) home.
            userdel "$NB_USER"
            useradd --no-log-init --no-create-home --home-dir "/home/${NB_USER}" --shell /bin/bash \
                --non-unique --uid "$NB_UID" --gid "$NB_GID" --groups 100 "$NB_USER"
        fi
    fi
    home="/home/${NB_USER}"
    if [[ ! -e "$home" && -d /home/jovyan ]]; then
        # The old path stays valid (docker exec and HEALTHCHECK start in WORKDIR /home/jovyan). A
        # mounted /home/jovyan cannot be moved: the new name points at it instead.
        if mv /home/jovyan "$home" 2>/dev/null; then
            ln -s "$home" /home/jovyan
            log "Moved /home/jovyan to ${home} (/home/jovyan links to it)"
        else
            ln -s /home/jovyan "$home"
            log "Linked ${home} to /home/jovyan"
        fi
    fi
    case "$PWD/" in
        /home/jovyan/*) cd "${home}${PWD#/home/jovyan}" 2>/dev/null || cd "$home" ;;
    esac
    if is_yes "${CHOWN_HOME:-}"; then
        log "Changing the owner of ${home} to ${NB_UID}:${NB_GID} ${CHOWN_HOME_OPTS:+(options: ${CHOWN_HOME_OPTS})}"
        # Options are words on purpose (e.g. "-R").
        # shellcheck disable=SC2086
        chown ${CHOWN_HOME_OPTS:-} "${NB_UID}:${NB_GID}" "$home"
    fi
    IFS=, read -r -a extra_dirs <<<"${CHOWN_EXTRA:-}"
    for dir in "${extra_dirs[@]}"; do
        log "Changing the owner of ${dir} to ${NB_UID}:${NB_GID} ${CHOWN_EXTRA_OPTS:+(options: ${CHOWN_EXTRA_OPTS})}"
        # shellcheck disable=SC2086
        chown ${CHOWN_EXTRA_OPTS:-} "${NB_UID}:${NB_GID}" "$dir"
    done
    if is_yes "${GRANT_SUDO:-}"; then
        log "Granting ${NB_USER} passwordless sudo"
        echo "${NB_USER} ALL=(ALL) NOPASSWD:ALL" >/etc/sudoers.d/added-by-start-script
        chmod 0440 /etc/sudoers.d/added-by-start-script
    fi
    run_hooks /usr/local/bin/before-notebook.d
    unset_requested_vars
    export HOME="$home" USER="$NB_USER" LOGNAME="$NB_USER" XDG_CACHE_HOME="${home}/.cache"
    if [[ "$NB_USER" == root || "$NB_UID" == 0 ]]; then
        log "Running as root: $*"
        exec "$@"
    fi
    log "Running as ${NB_USER} (${NB_UID}:${NB_GID}): $*"
    # setpriv keeps the whole environment (PATH included) and the umask, unlike sudo.
    exec setpriv --reuid "$NB_UID" --regid "$NB_GID" --init-groups -- "$@"
fi

if ! id -un >/dev/null 2>&1; then
    log "WARNING: uid $(id -u) has no entry in /etc/passwd; adding one named ${NB_USER}"
    if [[ -w /etc/passwd ]]; then
        # /etc itself is not writable: rewrite the file in place. Any entry named NB_USER goes.
        passwd_copy=$(mktemp)
        grep -v "^${NB_USER}:" /etc/passwd >"$passwd_copy" || true
        echo "${NB_USER}:x:$(id -u):$(id -g):,,,:${HOME}:/bin/bash" >>"$passwd_copy"
        cat "$passwd_copy" >/etc/passwd
        rm -f "$passwd_copy"
    else
        log "WARNING: /etc/passwd is not writable: start with group 0 (--user $(id -u):0) to fix this"
    fi
elif [[ "$NB_UID" != "$(id -u)" || "$NB_GID" != "$(id -g)" ]]; then
    log "WARNING: running as $(id -u):$(id -g), not NB_UID:NB_GID ${NB_UID}:${NB_GID}: start as root to change them"
fi
if [[ "$NB_USER" != "$(id -un 2>/dev/null)" ]]; then
    log "WARNING: running as $(id -un 2>/dev/null), not NB_USER=${NB_USER}: start as root to rename the user"
fi
if is_yes "${GRANT_SUDO:-}"; then
    log "WARNING: GRANT_SUDO needs the container to start as root; no sudo rights granted"
fi
if [[ ! -w "${HOME}" ]]; then
    log "WARNING: no write access to ${HOME}: start with the users group (--group-add users) or as root with CHOWN_HOME=yes"
fi
run_hooks /usr/local/bin/before-notebook.d
unset_requested_vars
log "Executing the command: $*"
exec "$@"
