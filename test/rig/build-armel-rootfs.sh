#!/bin/sh
# build-armel-rootfs.sh [DEST]
#
# Builds the emulated N810's root filesystem once per machine: a minimal Debian bookworm
# armel tree (debootstrap --foreign, second stage in a chroot under qemu-arm-static via
# binfmt_misc) with busybox, dropbear and Debian's armel python3. DEST defaults to
# $REFSCOPE_ARMEL_ROOTFS or /var/cache/refscope-rig/armel-rootfs, outside the repository.
# It is built in DEST.part and renamed into place only when complete, so a half-built tree
# is never used. Needs root, debootstrap, qemu-user-static and binfmt-support. The Debian
# mirror is the one apt's sources name (REFSCOPE_DEBIAN_MIRROR overrides; with neither it stops).
set -eu
dest="${1:-${REFSCOPE_ARMEL_ROOTFS:-/var/cache/refscope-rig/armel-rootfs}}"
suite="${REFSCOPE_ARMEL_SUITE:-bookworm}"
if [ -f "$dest/.complete" ]; then echo "rootfs: $dest is already built"; exit 0; fi

# the Debian mirror apt already uses (deb822 .sources or one-line .list), unless told otherwise;
# with neither, stop and say so: a guessed mirror may be unreachable or not the one this machine trusts
mirror="${REFSCOPE_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  # deb822: the first enabled "Types: deb" stanza with a URI ending in /debian (not debian-security)
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    mirror=$(awk '
      function flush() { if (deb && enabled && uri != "") { print uri; found = 1; exit } deb = 0; enabled = 1; uri = "" }
      BEGIN { enabled = 1 }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "enabled:" { if (tolower($2) == "no") enabled = 0 }
      tolower($1) == "uris:" { for (i = 2; i <= NF; i++) if (uri == "" && $i ~ /^https?:\/\/.*\/debian\/?$/) uri = $i }
      END { if (!found) flush() }
    ' "$f")
    [ -z "$mirror" ] || break
  done
fi
if [ -z "$mirror" ]; then
  # one-line: "deb [options] URI suite components", the first URI ending in /debian
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }')
fi
if [ -z "$mirror" ]; then
  echo "rootfs: no Debian mirror in apt's sources (/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list, /etc/apt/sources.list.d/*.list); set REFSCOPE_DEBIAN_MIRROR to one (e.g. REFSCOPE_DEBIAN_MIRROR=http://deb.debian.org/debian)" >&2
  exit 2
fi

for t in debootstrap chroot; do
  command -v "$t" >/dev/null 2>&1 || { echo "rootfs: $t is missing (apt-get install debootstrap)" >&2; exit 2; }
done
[ -x /usr/bin/qemu-arm-static ] || { echo "rootfs: qemu-arm-static is missing (apt-get install qemu-user-static binfmt-support)" >&2; exit 2; }
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-arm ] && command -v update-binfmts >/dev/null 2>&1; then
  update-binfmts --enable qemu-arm >/dev/null 2>&1 || true
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-arm ] || { echo "rootfs: binfmt_misc has no qemu-arm entry (apt-get install binfmt-support; update-binfmts --enable qemu-arm)" >&2; exit 2; }

part="$dest.part"
rm -rf "$part"
mkdir -p "$part"
start=$(date +%s)
echo "rootfs: debootstrap --foreign --arch=armel $suite from $mirror into $part"
debootstrap --foreign --arch=armel --variant=minbase --include=busybox,dropbear-bin,python3 "$suite" "$part" "$mirror" >"$part.log" 2>&1 \
  || { tail -n 20 "$part.log" >&2; exit 1; }
# the second stage runs armel binaries: binfmt_misc hands them to qemu-arm-static ("F": preloaded, so no copy in the tree is needed)
echo "rootfs: second stage under qemu-arm-static"
QEMU_CPU=arm1136 chroot "$part" /debootstrap/debootstrap --second-stage >>"$part.log" 2>&1 \
  || { tail -n 20 "$part.log" >&2; tail -n 20 "$part/debootstrap/debootstrap.log" >&2 2>/dev/null; exit 1; }
# what the rig needs inside: a root home with .ssh (bound over per run), /run for dropbear's pid
mkdir -p "$part/root/.ssh" "$part/run" "$part/tmp"
chmod 700 "$part/root/.ssh"
chmod 1777 "$part/tmp"
rm -rf "$part/var/cache/apt/archives/"*.deb "$part/var/lib/apt/lists/"* 2>/dev/null || true
echo "$suite armel $(date -u +%Y-%m-%dT%H:%M:%SZ) $mirror" > "$part/.complete"
rm -rf "$dest"
mv "$part" "$dest"
mv "$part.log" "$dest.log" 2>/dev/null || true
echo "rootfs: built $dest in $(( $(date +%s) - start )) s ($(du -sm "$dest" | cut -f1) MB)"
