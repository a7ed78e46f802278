#!/usr/bin/env bash
# The whole test suite, against the real local OpenSearch node (installed and started as needed).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$NEURALPIPE_REPO"
neuralpipe opensearch install >/dev/null
python scripts/build_models.py >/dev/null   # the shipped models' zips (progress on stderr); cached after the first run
set +e
# -m "": every test, the differential against the real plugins included (pyproject's addopts
# leave it out of a bare `pytest`); a -m in "$@" comes later and wins.
python -m pytest -m "" "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: the selection is empty, which is a failure here" >&2
  exit 1
fi
exit "$rc"
