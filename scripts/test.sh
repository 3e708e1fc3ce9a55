#!/usr/bin/env bash
# The test command: sets up .venv with the test extras, Debian's Chromium for the browser
# test, then runs the whole suite. Extra arguments go to pytest (e.g. -k web, -x).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh dev

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    sudo=()
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo=(sudo)
    echo "test: installing Debian's chromium and chromium-driver for the browser test" >&2
    if ! { "${sudo[@]}" apt-get update -qq && \
           DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null; }; then
        # Outside CI the browser test then skips and says why; in CI it fails.
        echo "test: could not install Chromium" >&2
    fi
fi

exec .venv/bin/python -m pytest "$@"
