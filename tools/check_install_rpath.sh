#!/bin/sh
# Install into a temporary directory (as `meson install --destdir` or a custom --prefix
# would put it: not a directory the dynamic loader searches) and run the installed
# `hessblock --version` with an empty environment: no LD_LIBRARY_PATH, so the tool must
# find the installed libhessblock through its own RUNPATH (tools/meson.build).
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$tmp" >/dev/null
tool=$(find "$tmp" -path '*/bin/hessblock' -type f | head -n 1)
[ -n "$tool" ] || { echo "hessblock not installed"; exit 1; }
runpath=$(readelf -d "$tool" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
echo "RUNPATH: ${runpath:-none}"
out=$(env -i "$tool" --version) || { echo "installed hessblock does not run without LD_LIBRARY_PATH"; exit 1; }
echo "$out"
# It must be the installed library, not the build tree's or a system copy.
lib=$(env -i LD_TRACE_LOADED_OBJECTS=1 "$tool" | sed -n 's/.*libhessblock[^ ]* => \([^ ]*\).*/\1/p')
echo "libhessblock: $lib"
case "$lib" in
  "$tmp"/*) ;;
  *) echo "hessblock loaded $lib, not the library installed under $tmp"; exit 1 ;;
esac
