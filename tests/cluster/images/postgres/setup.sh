# Runs in the new root filesystem, as root, when the image is built.
set -eu
# The upstream image's user: postgres, uid and gid 999 (Debian's package picked another).
old_uid=$(id -u postgres)
old_gid=$(id -g postgres)
groupmod --gid 999 postgres
usermod --uid 999 --gid 999 postgres
find / -xdev -uid "$old_uid" -exec chown -h 999 {} +
find / -xdev -gid "$old_gid" -exec chgrp -h 999 {} +
# The package made a cluster ("main") on installation; the entrypoint makes one in $PGDATA instead.
rm -rf /etc/postgresql/15/main /var/lib/postgresql/15
# As upstream: a new cluster listens on every address.
sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" /usr/share/postgresql/15/postgresql.conf.sample
mkdir -p /var/run/postgresql /var/lib/postgresql/data /docker-entrypoint-initdb.d
chown postgres:postgres /var/run/postgresql /var/lib/postgresql/data
chmod 3777 /var/run/postgresql
chmod 1777 /var/lib/postgresql/data
# The JIT compiler is LLVM (135 MB of the image); without its provider the server just does not JIT.
rm -rf /usr/lib/postgresql/15/lib/llvmjit* /usr/lib/postgresql/15/lib/bitcode
rm -f /usr/lib/x86_64-linux-gnu/libLLVM-14.so* /usr/lib/x86_64-linux-gnu/libz3.so*
