#!/usr/bin/env bash
# bash detection.sh CONFIG GPUS [tools/train.py args]
# Trains an mmdet config with tools/dist_train.sh (torchrun; NNODES, NODE_RANK, MASTER_ADDR and
# PORT for several nodes; GPUS processes with gloo on a machine without CUDA).
set -e
if [ $# -lt 2 ]; then
    echo "usage: bash detection.sh CONFIG GPUS [tools/train.py args]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/tools/dist_train.sh" "$@"
