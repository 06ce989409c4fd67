#!/bin/sh
# Fails if the shared library exports a defined symbol whose name does not start with hb_.
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ {print $3}')
[ -n "$syms" ] || { echo "no exported symbols found in $lib"; exit 1; }
bad=$(echo "$syms" | grep -v '^hb_' || true)
if [ -n "$bad" ]; then echo "exported without the hb_ prefix:"; echo "$bad"; exit 1; fi
echo "$(echo "$syms" | wc -l) exported symbols, all hb_*"
