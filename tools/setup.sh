#!/usr/bin/env bash
# Set up a fresh Debian (bookworm) machine, build libhessblock, and run the main job.
#   bash tools/setup.sh            # install packages (needs root or sudo), build, run
#   HB_SKIP_APT=1 bash tools/setup.sh   # packages already present
# The main job is `hessblock analyze` on real data (gpt on the text corpus, mlp and cnn on
# Fashion-MNIST: the packages above; docs/cli.md); HB_SKIP_APT=1 without them fails with a
# message naming the package and `--data synthetic`.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential meson ninja-build pkg-config libblis-dev liblapacke-dev check
          valgrind abigail-tools python3 python3-numpy python3-pytest locales
          python3-pip python3-setuptools python3-wheel python3-venv  # pip install ., venv test
          zlib1g-dev dataset-fashion-mnist  # gzip IDX reader; real image data (docs/data.md)
          fortunes  # text for gpt (--data text; docs/data.md): /usr/share/games/fortunes,
                    # 3 files from its dependency fortunes-min, the other 40 from fortunes
          base-files  # /usr/share/common-licenses, the rest of the text (essential: always there)
          libopenmpi-dev openmpi-bin)  # libhessblock-mpi and its tests under mpirun (-Dmpi=auto)
if [ "${HB_SKIP_APT:-0}" != 1 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# A decimal-comma locale for the tests of locale-independent output (issue 12.8); without
# it those checks skip. Generating one needs root, like apt-get.
if [ "${HB_SKIP_APT:-0}" != 1 ] && ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$'; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO localedef -i de_DE -f UTF-8 de_DE.UTF-8
fi

if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release
fi
ninja -C build

if [ -x build/tools/hessblock ]; then
  build/tools/hessblock analyze --out build/hessblock-out
else
  build/examples/hello_params
fi
