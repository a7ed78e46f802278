#!/usr/bin/env bash
# One command on a fresh machine: install everything, start the local node, run the main job.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$NEURALPIPE_REPO"
echo "demo: installing the OpenSearch node (first run downloads it from Maven Central) ..." >&2
neuralpipe opensearch install >/dev/null
echo "demo: starting the node ..." >&2
neuralpipe opensearch start
# builds once (the first run takes minutes, shown as it goes); cached under $NEURALPIPE_HOME/models
echo "demo: building the model zips ..." >&2
python scripts/build_models.py >/dev/null
python scripts/demo.py "$@"
