#!/bin/sh
# The upstream postgres image's contract, in short: POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE),
# POSTGRES_USER (default postgres), POSTGRES_DB (default: the user's name), POSTGRES_INITDB_ARGS,
# POSTGRES_HOST_AUTH_METHOD (default scram-sha-256); a cluster made in $PGDATA on first start,
# then /docker-entrypoint-initdb.d/*.sh and *.sql; started as root it drops to postgres (999),
# started as any other user it runs as that user.
set -eu

# Options alone ("-c max_connections=200") go to the server.
case "${1:-}" in -*) set -- postgres "$@" ;; esac
[ "${1:-}" = postgres ] || exec "$@"

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

# shellcheck disable=SC2034 # value and file are read by the eval
file_env() {  # NAME: from $NAME, or from the file $NAME_FILE names
    eval "value=\${$1:-}" "file=\${$1_FILE:-}"
    if [ -n "$file" ]; then value=$(cat "$file"); fi
    eval "$1=\$value"
}
file_env POSTGRES_PASSWORD
file_env POSTGRES_USER
file_env POSTGRES_DB
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
        echo "error: the database is uninitialized and no superuser password is given:" >&2
        echo "  set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE), or POSTGRES_HOST_AUTH_METHOD=trust" >&2
        exit 1
    fi
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA" 2>/dev/null || :
    # initdb needs a passwd entry for the user it runs as; an arbitrary uid has none.
    if ! getent passwd "$(id -u)" >/dev/null; then
        NSS_WRAPPER_PASSWD=$(mktemp)
        NSS_WRAPPER_GROUP=$(mktemp)
        echo "postgres:x:$(id -u):$(id -g):PostgreSQL:$PGDATA:/bin/false" >"$NSS_WRAPPER_PASSWD"
        echo "postgres:x:$(id -g):" >"$NSS_WRAPPER_GROUP"
        export NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP LD_PRELOAD=libnss_wrapper.so
    fi
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-}
    rm -f "$pwfile"
    if [ -n "${LD_PRELOAD:-}" ]; then
        rm -f "$NSS_WRAPPER_PASSWD" "$NSS_WRAPPER_GROUP"
        unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
    fi
    printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

    # A server on the socket only, for the database and the init scripts.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
    export PGPASSWORD="$POSTGRES_PASSWORD"
    psql="psql -v ON_ERROR_STOP=1 --username=$POSTGRES_USER --no-password --no-psqlrc"
    if [ "$POSTGRES_DB" != postgres ]; then
        # psql quotes the name (:"db"); it reads variables only from its input, not from -c
        echo 'CREATE DATABASE :"db";' | $psql --dbname=postgres --set db="$POSTGRES_DB"
    fi
    for init in /docker-entrypoint-initdb.d/*; do
        # shellcheck disable=SC1090 # the user's scripts
        case "$init" in
            *.sh) echo "$0: running $init" && . "$init" ;;
            *.sql) echo "$0: running $init"; $psql --dbname="$POSTGRES_DB" -f "$init" ;;
        esac
    done
    unset PGPASSWORD
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
