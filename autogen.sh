#!/bin/sh
# autogen.sh: generates ./configure. With --deps it first installs, with
# apt-get, every Debian package that the build, the tests and the benchmarks
# need (run as root, or with sudo available).
set -e
cd "$(dirname "$0")"

DEBIAN_PACKAGES="build-essential autoconf automake libtool pkg-config \
  liblua5.4-dev libpcre2-dev libseccomp-dev libjson-c-dev libjansson-dev \
  libopenblas-dev libutf8proc-dev python3 python3-numpy"

if [ "$1" = "--deps" ]; then
  shift
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  missing=
  for p in $DEBIAN_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "autogen.sh: installing$missing"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
  fi
fi

mkdir -p m4 build-aux
autoreconf --install --force
echo "autogen.sh: now run ./configure && make"
