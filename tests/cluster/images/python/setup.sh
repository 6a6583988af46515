# Runs in the new root filesystem, as root, when the image is built.
set -eu
# The upstream image answers to python as well as python3.
ln -s /usr/bin/python3 /usr/local/bin/python
