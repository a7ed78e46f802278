#!/usr/bin/env bash
# One command on a fresh machine: install everything, start the local node, run the main job.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$NEURALPIPE_REPO"
neuralpipe opensearch install >/dev/null
neuralpipe opensearch start
python scripts/build_models.py >/dev/null   # builds once; cached under $NEURALPIPE_HOME/models
python scripts/demo.py "$@"
