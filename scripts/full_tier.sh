#!/usr/bin/env bash
# Run the full tier, one experiment after another, into results/full/ (see README "Results").
#   scripts/full_tier.sh [EXPERIMENT ...]      default: every experiment, in the order below
#   SCALE=teach scripts/full_tier.sh           the teach tier into results/teach/ (the table's column)
# An experiment whose results/SCALE/NAME/result.json exists is skipped; an unfinished one resumes
# from its journal (results/SCALE/.aelab-journal). Each run's log: results/SCALE/logs/NAME.log.
set -u
cd "$(dirname "$0")/.."
ORDER=(vincent-filters zhou-curves zhou-parzen zhao-unpool zhao-translation lecture-latent
       lecture-pca lecture-tour lecture-vae lecture-hashing lecture-sparse-coding lecture-psd
       lecture-tangents zhang-inversion zhang-augment zhou-svm zhou-finetune vincent-sda
       zhao-semisup lecture-pretraining)
[ $# -gt 0 ] && ORDER=("$@")
# THREADS: torch CPU threads per run (default 1: on a machine shared with other work, one
# thread is several times faster than two fighting for the cores; use 2 on a quiet machine)
SCALE=${SCALE:-full}
export AELAB_THREADS=${THREADS:-1}
# glibc: keep freed memory instead of returning it to the kernel after every step (the SWWAE's
# page faults cost 27-34 ms a step otherwise; see benchmarks/swwae_epoch.py)
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-4000000000} MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-4000000000}
OUT=results/$SCALE
mkdir -p "$OUT/logs"
for name in "${ORDER[@]}"; do
  if [ -f "$OUT/$name/result.json" ]; then echo "$name: done"; continue; fi
  echo "$name: running ($(date -u +%H:%M:%S))"
  if aelab reproduce "$name" --scale "$SCALE" --seed 0 --out "$OUT" --quiet >>"$OUT/logs/$name.log" 2>&1; then
    echo "$name: finished ($(date -u +%H:%M:%S))"
  else
    echo "$name: failed, see $OUT/logs/$name.log"
  fi
done
