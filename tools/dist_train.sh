#!/usr/bin/env bash
# bash tools/dist_train.sh CONFIG GPUS [train.py args]
# torchrun over GPUS processes per node; NNODES, NODE_RANK, MASTER_ADDR and PORT for several
# nodes. Without CUDA it runs GPUS processes on the CPU with the gloo backend.
set -e
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)
exec bash "$TOOLS_DIR/dist_launch.sh" "$TOOLS_DIR/train.py" "$2" "$1" "${@:3}"
