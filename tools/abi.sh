#!/usr/bin/env bash
# The ABI baseline of libhessblock.so (policy: docs/abi.md). Needs abigail-tools.
#   bash tools/abi.sh check    build with debug info (build-abi/), compare the library with
#                              abi/libhessblock.abi; fails on an incompatible change (removed
#                              or changed function, changed public type) unless the soname's
#                              major moved. Compatible additions pass, with a note.
#   bash tools/abi.sh update   the one command after adding or merging public functions:
#                              lists every new HB_API symbol by name in lib/libhessblock.sym
#                              (node of VERSION's major.minor), rebuilds, rewrites the baseline.
# Only types reachable from include/hessblock/ count (--headers-dir); locations and build
# paths are left out of the baseline so it changes only when the ABI does.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-}
case "$cmd" in check|update) ;; *) echo "usage: tools/abi.sh check|update" >&2; exit 2 ;; esac
command -v abidw >/dev/null || { echo "abidw not found: apt-get install abigail-tools" >&2; exit 2; }

build=build-abi
baseline=abi/libhessblock.abi
symfile=lib/libhessblock.sym
opts=(--buildtype=debugoptimized -Dtests=false -Dexamples=false -Dtools=false -Dbench=false
      -Dpython=false -Ddocs=false)
if [ -f "$build/build.ninja" ]; then meson setup --reconfigure "$build" "${opts[@]}" >/dev/null
else meson setup "$build" "${opts[@]}" >/dev/null; fi

# HB_API definitions = default-visibility definitions of the static library (everything
# else is compiled hidden); see tests/check_symbols_listed.sh.
list_missing() {
  ninja -C "$build" lib/libhessblock.a >/dev/null
  readelf -sW "$build/lib/libhessblock.a" | awk '($5 == "GLOBAL" || $5 == "WEAK") &&
    $6 == "DEFAULT" && $7 != "UND" && ($4 == "FUNC" || $4 == "OBJECT") {print $8}' |
    sort -u | while read -r s; do grep -q "^[[:space:]]*$s;" "$symfile" || echo "$s"; done
}

if [ "$cmd" = update ]; then
  missing=$(list_missing)
  if [ -n "$missing" ]; then
    node="HESSBLOCK_$(cut -d. -f1,2 VERSION)"
    echo "adding to $node in $symfile:"; echo "$missing" | sed 's/^/    /'
    # Insert into the node's global: list (creating the node, chained on the last one, if
    # this is the first symbol of a new release) and keep the list sorted.
    MISSING="$missing" NODE="$node" /usr/bin/python3 - "$symfile" <<'PY'
import os, re, sys
path, node = sys.argv[1], os.environ["NODE"]
new = os.environ["MISSING"].split()
text = open(path).read()
m = re.search(r"^%s\s*\{\s*global:\n(.*?)(?=^\s*(local:|\}))" % re.escape(node), text, re.M | re.S)
if m:
    names = sorted(set(re.findall(r"^\s*(\w+);", m.group(1), re.M)) | set(new))
    body = "".join("    %s;\n" % n for n in names)
    text = text[:m.start(1)] + body + text[m.end(1):]
else:
    prev = re.findall(r"^(HESSBLOCK_[\d.]+)\s*\{", text, re.M)[-1]
    text += "\n%s {\n  global:\n%s} %s;\n" % (node, "".join("    %s;\n" % n for n in sorted(new)), prev)
open(path, "w").write(text)
PY
  fi
fi

ninja -C "$build" >/dev/null
lib="$build/lib/libhessblock.so"
# Both sides are abidw dumps made with the same options: only types defined in
# include/hessblock/ are described (opaque handles stay declarations, so internal structs
# may change freely), without source locations (line moves are not ABI changes).
dump() {
  abidw --headers-dir include/hessblock --drop-private-types --no-show-locs \
    --no-comp-dir-path --no-corpus-path --out-file "$1" "$lib"
}
soname_of() { sed -n "s/.*soname='\([^']*\)'.*/\1/p" "$1" | head -n 1; }

if [ "$cmd" = update ]; then
  mkdir -p "$(dirname "$baseline")"
  dump "$baseline"
  echo "wrote $baseline ($(grep -c '<elf-symbol ' "$baseline") symbols, soname" \
       "$(soname_of "$baseline")); commit it with the change"
  exit 0
fi

[ -f "$baseline" ] || { echo "no $baseline: run tools/abi.sh update" >&2; exit 1; }
missing=$(list_missing)
if [ -n "$missing" ]; then
  echo "HB_API symbols not listed in $symfile (so not exported): run tools/abi.sh update"
  echo "$missing" | sed 's/^/    /'
  exit 1
fi
current="$build/libhessblock.abi"
dump "$current"
# No suppressions: libabigail 2.2's has_data_member_inserted_at=end (for struct_size
# structs growing at the end) also hid a changed member type, so such a growth is reported
# as incompatible here; after review it is recorded with tools/abi.sh update (docs/abi.md).
rc=0
abidiff "$baseline" "$current" || rc=$?
# abidiff's status is a bit set: 1 error, 2 usage, 4 ABI change, 8 incompatible change
# (removed symbols). A changed public type sets only 4, so a change that is more than
# added functions (the same diff with additions hidden still differs) is incompatible too.
if [ $((rc & 3)) -ne 0 ]; then echo "abidiff failed (status $rc)"; exit 1; fi
incompatible=0
if [ $((rc & 8)) -ne 0 ]; then incompatible=1
elif [ $((rc & 4)) -ne 0 ]; then
  rc2=0; abidiff --no-added-syms "$baseline" "$current" >/dev/null || rc2=$?
  [ $((rc2 & 12)) -eq 0 ] || incompatible=1
fi
old=$(soname_of "$baseline"); new=$(soname_of "$current")
if [ $incompatible = 1 ]; then
  if [ "$old" != "$new" ]; then
    echo "ABI: incompatible change with a new soname ($old -> $new): allowed."
    echo "Refresh the baseline in the same change: tools/abi.sh update"
    exit 0
  fi
  echo "ABI: INCOMPATIBLE change against $baseline (above), soname still $new."
  echo "Keep the old ABI, or move the major version in VERSION and run tools/abi.sh update."
  exit 1
fi
if [ $((rc & 4)) -ne 0 ]; then
  echo "ABI: compatible (functions added); record them in the baseline: tools/abi.sh update"
else
  echo "ABI: identical to $baseline"
fi
