#!/bin/sh
# The upstream redis image's contract: options alone go to redis-server; started as root it takes
# /data for redis (999) and drops to that user; files are private (umask 0077); without a
# configuration file, protected mode is off (upstream builds it off; Debian's build has it on).
set -eu

case "${1:-}" in -*) set -- redis-server "$@" ;; esac

if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

if [ "${1:-}" = redis-server ]; then
    case "${2:-}" in
        "" | -*)  # no configuration file: upstream's default
            shift
            set -- redis-server --protected-mode no "$@"
            ;;
    esac
fi
umask 0077
exec "$@"
