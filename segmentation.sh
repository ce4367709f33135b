#!/usr/bin/env bash
# Train a segmentation config on GPUS processes (one per GPU; gloo processes on CPU without CUDA):
#   bash segmentation.sh configs/segmentation/fpn_raftmlp_s_512x512_40k_ade20k.py 8 [train.py args]
# The config's default_scope (mmseg) selects the host; NNODES, NODE_RANK, MASTER_ADDR, PORT and
# PYTHON are passed on to tools/dist_train.sh.
set -e
if [ $# -lt 2 ]; then
    echo "usage: bash $0 CONFIG GPUS [train.py args]" >&2
    exit 2
fi
exec bash "$(cd "$(dirname "$0")" && pwd)/tools/dist_train.sh" "$@"
