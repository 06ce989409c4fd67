#!/bin/bash
# MPI on the lent 16-core host (bench/device/README.md): Debian Open MPI relocated from devrun/ompi.tar.xz
D=$PWD/devrun
[ -d $D/sys ] || python3 -c "import tarfile; tarfile.open(\"$D/sys.tar.xz\").extractall(\"$D\")"
[ -d $D/ompi ] || { python3 -c "import tarfile; tarfile.open(\"$D/ompi.tar.xz\").extractall(\"$D\")" && mv $D/ompi_bundle $D/ompi; }
export OPAL_PREFIX=$D/ompi/usr
export PMIX_MCA_mca_base_component_path=$D/ompi/usr/lib/x86_64-linux-gnu/pmix2/lib/pmix
export PATH=$D/ompi/usr/bin:$PATH
export LD_LIBRARY_PATH=$D/sys:$D/new/lib:$D/new/lib/mpi:$D/ompi/deps:$D/ompi/usr/lib/x86_64-linux-gnu/pmix2/lib
export OMPI_MCA_btl=self,vader OMPI_MCA_pml=ob1 OMPI_MCA_mtl=^ofi,psm,psm2 OMPI_MCA_osc=^ucx
ln -sf orterun $D/ompi/usr/bin/mpirun
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p /usr/share/datasets /usr/share/games
[ -d /usr/share/datasets/fashion-mnist ] || cp -a $D/data/fashion-mnist /usr/share/datasets/
[ -d /usr/share/games/fortunes ] || cp -a $D/data/fortunes /usr/share/games/
[ -d /usr/share/common-licenses ] || cp -a $D/data/common-licenses /usr/share/
uptime; nproc
timeout 30 mpirun -np 2 hostname 2>&1 | tail -3
M="mpirun --allow-run-as-root --oversubscribe --bind-to none"
for rt in "1 16" "4 4" "16 1"; do set -- $rt
  timeout 60 $M -np $1 $D/new/bench/bench_data_parallel $2 256 4 16 5 f32 2>&1 | tail -3
done
CONFIGS="1x16 4x4 16x1" ROUNDS=2 MPIRUN="$M" ARGS="" timeout 200 sh bench/mpi_analyze.sh $D/new/tools/hessblock 2>&1 | tail -10
CONFIGS="1x16 4x4 16x1" ROUNDS=1 MPIRUN="$M" ARGS="--models gpt --no-train --no-quadratic --data synthetic --preset ref --probes 4 --steps 32" timeout 150 sh bench/mpi_analyze.sh $D/new/tools/hessblock 2>&1 | tail -6
