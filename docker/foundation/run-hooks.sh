#!/bin/bash
# Run the start-up hooks of one folder, in name order: `*.sh` files are sourced (start.sh sources this
# file, so what they export reaches the command it starts), other executable files are run, anything
# else is skipped. A failing hook is logged and the start goes on.
# Usage: source run-hooks.sh DIR   (or run-hooks.sh DIR: then sourced hooks only change this shell)
jh_run_hooks() {
    local dir=$1 hook rc
    if [[ ! -d "$dir" ]]; then
        echo "run-hooks.sh: no folder ${dir}: no hooks to run" >&2
        return 0
    fi
    echo "run-hooks.sh: running hooks in ${dir} as uid $(id -u) gid $(id -g)" >&2
    for hook in "$dir"/*; do
        [[ -e "$hook" ]] || continue  # an empty folder leaves the glob as is
        rc=0
        case "$hook" in
            *.sh)
                echo "run-hooks.sh: sourcing ${hook}" >&2
                # shellcheck disable=SC1090
                source "$hook" || rc=$?
                ;;
            *)
                if [[ -x "$hook" ]]; then
                    echo "run-hooks.sh: running ${hook}" >&2
                    "$hook" || rc=$?
                else
                    echo "run-hooks.sh: skipping ${hook}: neither *.sh nor executable" >&2
                fi
                ;;
        esac
        if ((rc != 0)); then
            echo "run-hooks.sh: ERROR: ${hook} failed with exit code ${rc}; continuing" >&2
        fi
    done
    echo "run-hooks.sh: done with ${dir}" >&2
}
jh_run_hooks "$1"
