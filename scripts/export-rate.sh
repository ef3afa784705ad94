#!/usr/bin/env bash
# Export rate of the simple six-column table next to psql COPY, as before
# scripts/bench.sh took over:
#   scripts/export-rate.sh [ROWS]   (default 2000000)
set -euo pipefail
ROWS=${1:-2000000} TABLE=big exec "$(dirname "$0")/bench.sh"
