#!/bin/sh
# The upstream contract: when the command is nginx, first run the scripts in /docker-entrypoint.d
# (none are shipped here; a ConfigMap may add some), then the command.
set -eu
if [ "${1:-}" = nginx ] || [ "${1:-}" = nginx-debug ]; then
    for script in /docker-entrypoint.d/*.sh; do
        [ -x "$script" ] || continue
        echo "$0: running $script"
        "$script"
    done
fi
exec "$@"
