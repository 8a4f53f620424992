#!/usr/bin/env bash
# Leave-one-subject-out SSL-versus-random-init probe on a wearwin/1 dataset.
# For each subject K: pretrain without K, then a linear probe trained on the other
# subjects' labelled windows and tested on K, for the run and its random-init twin.
#
#   examples/wearable/loso.sh CONFIG DATA OUTDIR [SEED] [SUBJECT...]
#   examples/wearable/loso.sh examples/wearable/probe_frameproj.yaml \
#       "$(python -c 'import sslcli_wearable.dataset as d; print(d.example_data())')" runs/loso
#
# Prints one JSON object per fold and encoder (ssl, random, difference) on stdout.
set -euo pipefail
config=$1 data=$2 out=$3 seed=${4:-0}
shift $(( $# < 4 ? $# : 4 ))
subjects=("$@")
if [ ${#subjects[@]} -eq 0 ]; then
  mapfile -t subjects < <(python -c "
import json, sys
meta = json.load(open(sys.argv[1] + '/meta.json'))
print('\n'.join(meta['subjects']))" "$data")
fi
for s in "${subjects[@]}"; do
  run="$out/$s-seed$seed"
  sslcli pretrain --modality wearable --config "$config" --data "$data" --seed "$seed" \
    --exclude-subjects "$s" --out "$run" >&2
  sslcli evaluate --run "$run" --data "$data" --protocol linear --baseline random --json \
    | python -c "
import json, sys
for row in json.load(sys.stdin):
    print(json.dumps({'subject': sys.argv[1], 'seed': int(sys.argv[2]), **row}))" "$s" "$seed"
done
