# Runs in the new root filesystem, as root, when the image is built.
set -eu
# The upstream image's user: redis, uid and gid 999 (Debian's package picked another).
old_uid=$(id -u redis)
old_gid=$(id -g redis)
groupmod --gid 999 redis
usermod --uid 999 --gid 999 redis
find / -xdev -uid "$old_uid" -exec chown -h 999 {} +
find / -xdev -gid "$old_gid" -exec chgrp -h 999 {} +
mkdir -p /data
chown redis:redis /data
