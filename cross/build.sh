#!/bin/sh
# cross/build.sh [OUT_DIR]
#
# Builds refscope-sampler (cross/sampler/*.c) as small static binaries, one per target
# whose compiler is installed (Debian: gcc-arm-linux-gnueabi, gcc-arm-linux-gnueabihf,
# gcc-aarch64-linux-gnu, and the native gcc), into OUT_DIR/<target>/refscope-sampler.
# OUT_DIR defaults to $REFSCOPE_CROSS_DIR or dist/cross (never committed). A target whose
# compiler is missing is skipped and named; the script fails only when a compiler that is
# there fails. Up to date binaries are not rebuilt.
#
# Targets (deploy picks one by the device's `uname -m`, src/device/sampler.ts):
#   armv5te-linux-gnueabi   armel, -march=armv5te -marm: ARMv5TE and later (the N810's ARMv6)
#   armv7-linux-gnueabihf   armhf, -march=armv7-a: ARMv7 and later 32-bit
#   aarch64-linux-gnu       64-bit ARM
#   <native uname -m>-linux-gnu   this machine's own gcc (x86_64 here)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="${1:-${REFSCOPE_CROSS_DIR:-$here/../dist/cross}}"
mkdir -p "$out"
src="$here/sampler/sampler.c"
CFLAGS="-Os -static -s -Wall -Wextra -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections -Wl,--gc-sections"
native="$(uname -m)-linux-gnu"

built=0
skipped=""
build() { # target compiler extra-flags...
  target="$1"; cc="$2"; shift 2
  if ! command -v "$cc" >/dev/null 2>&1; then skipped="$skipped $target($cc missing)"; return 0; fi
  dst="$out/$target/refscope-sampler"
  mkdir -p "$out/$target"
  if [ -f "$dst" ] && [ "$dst" -nt "$src" ] && [ "$dst" -nt "$0" ]; then built=$((built + 1)); return 0; fi
  # shellcheck disable=SC2086
  "$cc" $CFLAGS "$@" -o "$dst.tmp" "$src"
  mv "$dst.tmp" "$dst"
  built=$((built + 1))
  echo "cross: $target $(wc -c < "$dst") bytes"
}
build armv5te-linux-gnueabi arm-linux-gnueabi-gcc -march=armv5te -marm
build armv7-linux-gnueabihf arm-linux-gnueabihf-gcc -march=armv7-a+fp
build aarch64-linux-gnu aarch64-linux-gnu-gcc
build "$native" gcc
[ -z "$skipped" ] || echo "cross: skipped:$skipped (apt-get install gcc-arm-linux-gnueabi gcc-arm-linux-gnueabihf gcc-aarch64-linux-gnu)"
echo "cross: $built target(s) in $out"
