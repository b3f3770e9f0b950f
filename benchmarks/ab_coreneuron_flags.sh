#!/bin/bash
# A/B/A/B: generic build (A) vs SONATASIM_CORENEURON_CFLAGS="-O3 -march=native" (B)
cd "$(dirname "$0")/.."
W=${WORKDIR:-/tmp/hpc-bench-cn}
for k in 1 2; do
  for v in A B; do
    if [ $v = B ]; then export SONATASIM_CORENEURON_CFLAGS="-O3 -march=native"; else unset SONATASIM_CORENEURON_CFLAGS; fi
    echo "=== $v$k $(date +%T)"
    nice -n 10 .venv/bin/python benchmarks/bench_coreneuron.py --repeat 1 --tstop 20 --cell-permute 0 --workdir $W 2>&1 | tail -8
    cp $W/results-coreneuron.json $W/results-$v$k.json 2>/dev/null
  done
done
echo DONE $(date +%T)
