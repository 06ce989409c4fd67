#!/bin/sh
# Every public function is listed by name in lib/libhessblock.sym (docs/abi.md).
# The version script ends in `local: *;`, so a new HB_API function missing from it is
# silently *not exported*: the shared library alone cannot show the mistake. The static
# library can: its default-visibility definitions are exactly the HB_API ones (everything
# else is compiled hidden). Fails when
#   - an HB_API symbol is not listed in the .sym file (says which node to add it to),
#   - a listed symbol is not an HB_API definition (removed or renamed: stale entry),
#   - a global: section uses a glob, or the shared library exports other than the list.
# usage: check_symbols_listed.sh SYMFILE VERSIONFILE libhessblock.a libhessblock.so
set -eu
sym=$1; version=$(cat "$2"); static=$3; shared=$4
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
status=0

# Symbols named in global: sections, and any glob there: strip /* */ comments (across
# lines), split into tokens at { } ; and after global:/local:, keep global: tokens.
awk '{
  line = $0; out = ""
  while (line != "") {
    if (incomment) { i = index(line, "*/"); if (!i) break; line = substr(line, i + 2); incomment = 0 }
    else { i = index(line, "/*"); if (!i) { out = out line; break }
           out = out substr(line, 1, i - 1); line = substr(line, i + 2); incomment = 1 }
  }
  print out }' "$sym" | sed 's/global:/&\n/g; s/local:/&\n/g; s/[{};]/\n/g' | awk '
  { gsub(/[ \t]/, "") } $0 == "" {next}
  $0 == "global:" {g = 1; next} $0 == "local:" {g = 0; next}
  /^HESSBLOCK_/ {g = 0; next}
  g { print }' > "$tmp/listed.raw"
if grep -q '[*?[]' "$tmp/listed.raw"; then
  echo "$sym: a global: section uses a glob; list every symbol by name:"
  grep '[*?[]' "$tmp/listed.raw"; status=1
fi
grep -v '[*?[]' "$tmp/listed.raw" | sort -u > "$tmp/listed" || true
dups=$(sort "$tmp/listed.raw" | uniq -d)
if [ -n "$dups" ]; then echo "listed twice in $sym:"; echo "$dups"; status=1; fi

# HB_API definitions: global/weak, default visibility, defined, function or object.
readelf -sW "$static" | awk '($5 == "GLOBAL" || $5 == "WEAK") && $6 == "DEFAULT" &&
  $7 != "UND" && ($4 == "FUNC" || $4 == "OBJECT") {print $8}' | sort -u > "$tmp/api"
[ -s "$tmp/api" ] || { echo "no public symbols found in $static"; exit 1; }

# The node new symbols belong to: the one of this version's major.minor (unreleased
# until tagged); docs/abi.md says when a new node starts.
node="HESSBLOCK_$(echo "$version" | cut -d. -f1,2)"
missing=$(comm -23 "$tmp/api" "$tmp/listed")
if [ -n "$missing" ]; then
  status=1
  echo "HB_API functions not listed in $sym (so NOT exported by libhessblock.so):"
  echo "$missing" | sed 's/^/    /'
  echo "Fix: run 'bash tools/abi.sh update' from the source root (it adds them to node"
  echo "$node and refreshes abi/libhessblock.abi; commit both files). By hand:"
  if grep -q "^$node *{" "$sym"; then
    echo "add each as a line '    NAME;' to the global: list of node $node in $sym"
    echo "(sorted by name), then run 'bash tools/abi.sh update' for the ABI baseline."
  else
    prev=$(sed -n 's/^\(HESSBLOCK_[0-9.]*\) *{.*/\1/p' "$sym" | tail -n 1)
    echo "VERSION is $version and $sym has no node $node yet: append"
    echo "    $node { global: NAME; ... } $prev;"
    echo "with each name above, then run 'bash tools/abi.sh update' for the ABI baseline."
  fi
fi
stale=$(comm -13 "$tmp/api" "$tmp/listed")
if [ -n "$stale" ]; then
  status=1
  echo "listed in $sym but not an HB_API definition (removed or renamed?):"
  echo "$stale" | sed 's/^/    /'
  echo "Removing an exported symbol breaks the ABI (docs/abi.md): only with a soname bump."
fi

# What the shared library really exports (names without @VERSION) must be the list.
nm -D --defined-only "$shared" | awk '$2 ~ /^[TDBRVWiu]$/ {sub(/@.*/, "", $3); print $3}' |
  sort -u > "$tmp/exported"
if ! cmp -s "$tmp/exported" "$tmp/api"; then
  status=1
  echo "libhessblock.so exports differ from the HB_API definitions (< exported, > HB_API):"
  diff "$tmp/exported" "$tmp/api" || true
fi
[ $status = 0 ] && echo "$(wc -l < "$tmp/api") public symbols, each listed in $sym and exported"
exit $status
