# Runs in the new root filesystem (only busybox in it), as root, when the image is built.
set -eu
/bin/busybox --install -s /bin
mkdir -p /tmp /root /home /var/spool/mail /var/www
chmod 1777 /tmp
chmod 700 /root
