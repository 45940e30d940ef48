#!/usr/bin/env bash
# Run the full tier, one experiment after another, into results/full/ (see README "Results").
#   scripts/full_tier.sh [EXPERIMENT ...]      default: every experiment, in the order below
# An experiment whose results/full/NAME/result.json exists is skipped; an unfinished one resumes
# from its journal (results/full/.aelab-journal). Each run's log: results/full/logs/NAME.log.
set -u
cd "$(dirname "$0")/.."
ORDER=(vincent-filters zhou-curves zhou-parzen zhao-unpool zhao-translation lecture-latent
       lecture-pca lecture-tour lecture-vae lecture-hashing lecture-sparse-coding lecture-psd
       lecture-tangents zhang-inversion zhang-augment zhou-svm zhou-finetune vincent-sda
       zhao-semisup lecture-pretraining)
[ $# -gt 0 ] && ORDER=("$@")
mkdir -p results/full/logs
for name in "${ORDER[@]}"; do
  if [ -f "results/full/$name/result.json" ]; then echo "$name: done"; continue; fi
  echo "$name: running ($(date -u +%H:%M:%S))"
  if aelab reproduce "$name" --scale full --seed 0 --out results/full --quiet >>"results/full/logs/$name.log" 2>&1; then
    echo "$name: finished ($(date -u +%H:%M:%S))"
  else
    echo "$name: failed, see results/full/logs/$name.log"
  fi
done
