#!/bin/sh
# Install the library into a temporary prefix, then build and run a consumer with only
# `pkg-config --cflags --libs hessblock`, as a user of the installed library would.
set -eu
build=$1; src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$tmp" >/dev/null
pcdir=$(dirname "$(find "$tmp" -name hessblock.pc | head -n 1)")
[ -n "$pcdir" ] || { echo "hessblock.pc not installed"; exit 1; }
export PKG_CONFIG_PATH="$pcdir"
# A DESTDIR install keeps the configured prefix inside the .pc: point it at $tmp.
prefix="$tmp$(pkg-config --variable=prefix hessblock)"
flags=$(pkg-config --define-variable=prefix="$prefix" --cflags --libs hessblock)
echo "pkg-config: $flags"
libdir=$(pkg-config --define-variable=prefix="$prefix" --variable=libdir hessblock)
# A sanitizer build of the library needs the consumer built with the same runtime first.
san=""
if ldd "$libdir/libhessblock.so" | grep -q libasan; then san="-fsanitize=address,undefined"; fi
cc -std=c11 -Wall -Werror $san -o "$tmp/consumer" "$src" $flags -lm
LD_LIBRARY_PATH="$libdir" "$tmp/consumer"
