#!/bin/sh
# Fails when a tests/test_<name>.c exists whose <name> is not in hb_suites (tests/meson.build).
dir=$1; shift
status=0
for f in "$dir"/test_*.c; do
  name=$(basename "$f" .c); name=${name#test_}
  found=0
  for s in "$@"; do [ "$s" = "$name" ] && found=1; done
  if [ $found = 0 ]; then echo "suite file $f is not listed in hb_suites"; status=1; fi
done
echo "checked $(ls "$dir"/test_*.c | wc -l) suite files against: $*"
exit $status
