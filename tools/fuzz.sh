#!/usr/bin/env bash
# Fuzz the library with libFuzzer (+ AddressSanitizer, UBSan) for a bounded time per target.
#   bash tools/fuzz.sh [seconds=60] [target...]      targets: checkpoint text api idx (default: all)
# Installs clang, the libFuzzer runtime and clang's OpenMP with apt-get when missing
# (needs root or sudo), builds the library with clang into build-fuzz/, runs each target
# fuzz/fuzz_<target>.c for `seconds` on a copy of its seed corpus fuzz/corpus/<target>,
# and fails if the fuzzer finds a crash, a leak or a sanitizer report (the input is left
# in build-fuzz/crash-*; make it a regression test).
#   checkpoint  hb_checkpoint_load_buffer on mutated checkpoints (fuzz/fuzz_checkpoint.c)
#   text        hb_text_corpus_create(_buffers) and hb_model_set_corpus on inputs cut into
#               1-4 sources, both constructors compared (fuzz/fuzz_text.c)
#   api         random sequences of public calls with often invalid arguments, incl. the
#               network builder and versioned callbacks
#               (fuzz/fuzz_api.c)
#   idx         hb_idx_read on mutated IDX files, raw and gzip-wrapped, and the images it
#               accepts through hb_model_set_images (fuzz/fuzz_idx.c)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(checkpoint text api idx)
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

apt_install() {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

command -v clang >/dev/null || apt_install clang
ver=$(clang --version | sed -n 's/.*clang version \([0-9][0-9]*\).*/\1/p' | head -1)
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
cat > "$probe/t.c" <<'C'
#include <stddef.h>
#include <stdint.h>
#include <omp.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return omp_get_max_threads() < 0; }
C
if ! clang -fsanitize=fuzzer -fopenmp "$probe/t.c" -o "$probe/t" 2>/dev/null; then
  # Debian: libFuzzer is in libclang-rt-N-dev, clang's OpenMP in libomp-N-dev
  apt_install "libclang-rt-$ver-dev" "libomp-$ver-dev"
  clang -fsanitize=fuzzer -fopenmp "$probe/t.c" -o "$probe/t"
fi

if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz --buildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fsanitize=fuzzer-no-link \
    -Dtests=false -Dexamples=false -Dtools=false -Dbench=false -Dpython=false
fi
ninja -C build-fuzz lib/libhessblock.a

status=0
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_$t.c" ] || { echo "fuzz: no target fuzz/fuzz_$t.c"; exit 2; }
  clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fopenmp \
    -Iinclude -Ibuild-fuzz/include "fuzz/fuzz_$t.c" build-fuzz/lib/libhessblock.a \
    -lblis -llapacke -lz -lm -o "build-fuzz/fuzz_$t"
  corpus="build-fuzz/corpus-$t"
  mkdir -p "$corpus"
  cp -n "fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
  if ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=fuzz/lsan.supp \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "build-fuzz/fuzz_$t" -max_total_time="$secs" -max_len=4096 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="build-fuzz/$t-" "$corpus"; then
    echo "fuzz $t: no crash in ${secs}s"
  else
    echo "fuzz $t: FAILED (input in build-fuzz/$t-*)"; status=1
  fi
done
exit $status
