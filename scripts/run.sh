#!/usr/bin/env bash
# The main job: set up .venv, then serve the demo storefront with its chat widget, an embedded
# Redis and the embedded model. Extra arguments go to `shopbot serve` (e.g. --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/shopbot serve "$@"
