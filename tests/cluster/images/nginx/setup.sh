# Runs in the new root filesystem, as root, when the image is built.
# The upstream image's layout: user nginx (101), configuration in /etc/nginx/conf.d, content in
# /usr/share/nginx/html, temporary files under /var/cache/nginx, the PID file in /var/run, logs to
# the container's output. Debian's own site, paths and user are removed.
set -eu
groupadd --system --gid 101 nginx
useradd --system --uid 101 --gid nginx --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin nginx
rm -rf /etc/nginx/sites-enabled /etc/nginx/sites-available /var/www /var/lib/nginx
mkdir -p /var/cache/nginx /var/log/nginx
ln -sf /dev/stdout /var/log/nginx/access.log
ln -sf /dev/stderr /var/log/nginx/error.log
mkdir -p /docker-entrypoint.d
