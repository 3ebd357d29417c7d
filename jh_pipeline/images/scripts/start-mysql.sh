#!/bin/bash
# start-mysql.sh [start|stop|status]: a MariaDB (MySQL-compatible) server for the notebook user,
# started on demand inside the class image (installed when class.yaml says `mysql: true`).
#
#   start   (default) initialise the data directory on first use, start the server, wait until it
#           answers; does nothing when it already runs
#   stop    stop the server started from this data directory (by the PID in its pid file)
#   status  exit 0 when it runs, 3 when not
#
# Everything lives in the user's writable space, JH_MYSQL_DIR (default ~/.mysql): data/, my.cnf,
# mysqld.sock, mysqld.pid, mysqld.log. The server listens on the socket and on
# 127.0.0.1:${MYSQL_PORT:-3306} only. The first start creates a MariaDB `root` account without a
# password, which can connect only from inside the container (socket or 127.0.0.1), e.g.
#   pymysql.connect(host="127.0.0.1", port=3306, user="root")   or   mariadb -u root
# A ~/.my.cnf pointing the command-line clients at the socket is written when the user has none.
set -euo pipefail
# The server binaries live in /usr/sbin, which a non-root login shell's PATH (/etc/profile: what a
# JupyterLab terminal starts) does not have.
PATH="${PATH}:/usr/local/sbin:/usr/sbin:/sbin"

dir="${JH_MYSQL_DIR:-${HOME}/.mysql}"
port="${MYSQL_PORT:-3306}"
cnf="${dir}/my.cnf"
pidfile="${dir}/mysqld.pid"
sock="${dir}/mysqld.sock"
log="${dir}/mysqld.log"

running() {
    [[ -s "${pidfile}" ]] && kill -0 "$(cat "${pidfile}")" 2>/dev/null
}

answers() {
    mariadb --defaults-file="${cnf}" -u root -e 'SELECT 1' >/dev/null 2>&1
}

start() {
    command -v mariadbd >/dev/null || { echo "start-mysql.sh: no MariaDB server in this image" >&2; exit 1; }
    mkdir -p "${dir}"
    chmod 700 "${dir}"
    if running; then
        echo "MariaDB already running (pid $(cat "${pidfile}")), socket ${sock}"
        return 0
    fi
    cat > "${cnf}" <<EOF
[mysqld]
datadir=${dir}/data
socket=${sock}
pid-file=${pidfile}
log-error=${log}
bind-address=127.0.0.1
port=${port}
skip-name-resolve

[client]
socket=${sock}
port=${port}
EOF
    if [[ ! -d "${dir}/data/mysql" ]]; then
        if ! mariadb-install-db --defaults-file="${cnf}" --auth-root-authentication-method=normal \
                --skip-test-db >"${dir}/install-db.log" 2>&1; then
            echo "start-mysql.sh: initialising ${dir}/data failed:" >&2
            tail -n 30 "${dir}/install-db.log" >&2
            exit 1
        fi
    fi
    nohup mariadbd --defaults-file="${cnf}" </dev/null >>"${log}" 2>&1 &
    local pid=$!
    for _ in $(seq 1 300); do
        if answers; then
            if [[ ! -e "${HOME}/.my.cnf" ]]; then
                printf '[client]\nsocket=%s\nuser=root\n' "${sock}" > "${HOME}/.my.cnf"
            fi
            echo "MariaDB running (pid ${pid}): socket ${sock}, 127.0.0.1:${port}, user root (no password)"
            return 0
        fi
        if ! kill -0 "${pid}" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    echo "start-mysql.sh: the server did not start; ${log}:" >&2
    tail -n 30 "${log}" >&2
    kill "${pid}" 2>/dev/null || true
    exit 1
}

stop() {
    if ! running; then
        echo "MariaDB is not running"
        return 0
    fi
    local pid
    pid="$(cat "${pidfile}")"
    kill "${pid}"
    for _ in $(seq 1 150); do
        kill -0 "${pid}" 2>/dev/null || { echo "MariaDB stopped"; return 0; }
        sleep 0.2
    done
    kill -9 "${pid}" 2>/dev/null || true
    echo "MariaDB killed (did not stop within 30s)"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) if running; then echo "running (pid $(cat "${pidfile}"))"; else echo "not running"; exit 3; fi ;;
    *) echo "usage: start-mysql.sh [start|stop|status]" >&2; exit 2 ;;
esac
