#!/usr/bin/env bash
# Create .venv and install shopbot with its dependencies; idempotent and quick when nothing changed.
#
# torch is installed first and on purpose: the CPU build unless told otherwise. An unpinned
# `torch` from PyPI is the CUDA build and drags several GB of CUDA libraries along.
#   SHOPBOT_TORCH        the requirement to install   (default: torch==2.13.0+cpu)
#   SHOPBOT_TORCH_INDEX  an extra index to find it in (e.g. https://download.pytorch.org/whl/cpu,
#                        or https://download.pytorch.org/whl/cu126 with SHOPBOT_TORCH=torch==2.13.0)
#   SHOPBOT_PYTHON       the interpreter to build the venv with (default: python3.11, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."

torch_req=${SHOPBOT_TORCH:-torch==2.13.0+cpu}
extras=${1:-}                      # "dev" for the test dependencies
venv=.venv
py=${SHOPBOT_PYTHON:-$(command -v python3.11 || command -v python3)}

if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating $venv with $py" >&2
    "$py" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

# Re-install only when the dependencies, their pinned versions or the torch choice changed.
# A venv with the dev extras serves the plain run as well.
want="$(cat pyproject.toml scripts/constraints.txt | sha256sum | cut -c1-16) $torch_req ${SHOPBOT_TORCH_INDEX:-}"
stamp="$venv/.shopbot-installed-${extras:-base}"
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] ||
   { [ -z "$extras" ] && [ "$(cat "$venv/.shopbot-installed-dev" 2>/dev/null)" = "$want" ]; }; then
    exit 0
fi

index_args=()
if [ -n "${SHOPBOT_TORCH_INDEX:-}" ]; then
    index_args=(--extra-index-url "$SHOPBOT_TORCH_INDEX")
fi
echo "setup: installing $torch_req" >&2
"${pip[@]}" install -q "${index_args[@]}" "$torch_req"

target="."
[ -n "$extras" ] && target=".[$extras]"
echo "setup: installing shopbot${extras:+ [$extras]}" >&2
# constraints.txt pins every dependency to the versions the tests last passed with, so a new
# release upstream cannot break a fresh clone. Refresh it with:
#   .venv/bin/pip freeze --exclude-editable | grep -v '^torch==' > scripts/constraints.txt
"${pip[@]}" install -q -c scripts/constraints.txt -e "$target"
echo "$want" > "$stamp"
