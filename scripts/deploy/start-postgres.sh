#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster (Debian's server) on 127.0.0.1 for the hermetic deployment test.
#   bash scripts/deploy/start-postgres.sh DIR PORT USER PASSWORD DB
# DIR is created (it must not exist, and its parent must be traversable by the `postgres` user when
# run as root: the server refuses to run as root, so it then runs as `postgres`). Prints the
# server's PID last; stop it by that PID (SIGTERM, then SIGKILL).
set -euo pipefail
dir=${1:?usage: start-postgres.sh DIR PORT USER PASSWORD DB}
port=${2:?port}; user=${3:?user}; password=${4:?password}; db=${5:?db}
bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)
[ -x "$bindir/initdb" ] || { echo "start-postgres.sh: PostgreSQL server not installed (apt-get install postgresql)" >&2; exit 1; }

as_owner=()
if [ "$(id -u)" -eq 0 ]; then
    # setpriv execs (no parent process in between): the PID printed is the server's own.
    as_owner=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi
mkdir -p "$dir"
[ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
printf '%s\n' "$password" > "$dir/.pwfile"
[ "$(id -u)" -ne 0 ] || chown postgres: "$dir/.pwfile"
"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U "$user" --pwfile="$dir/.pwfile" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/.pwfile"

# Loopback TCP only, the socket in DIR (not /var/run/postgresql), fsync off: a test cluster.
"${as_owner[@]}" "$bindir/postgres" -D "$dir/data" -h 127.0.0.1 -p "$port" -k "$dir" \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
    >"$dir/postgres.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    if PGPASSWORD=$password "$bindir/psql" -h 127.0.0.1 -p "$port" -U "$user" -d postgres -qtAc 'select 1' >/dev/null 2>&1; then
        PGPASSWORD=$password "$bindir/psql" -h 127.0.0.1 -p "$port" -U "$user" -d postgres -qc "CREATE DATABASE \"$db\"" >/dev/null
        echo "$pid"
        exit 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$dir/postgres.log" >&2; exit 1; }
    sleep 0.2
done
echo "start-postgres.sh: the server did not answer on 127.0.0.1:$port" >&2
kill -9 "$pid" 2>/dev/null || true
exit 1
