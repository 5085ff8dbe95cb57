#!/usr/bin/env bash
# Colour a CCTV archive overnight. Rerun the same command after any crash or reboot: finished files
# are skipped, interrupted ones redone. Add --watch to keep colouring new recordings as they land.
# Usage: examples/cctv_overnight.sh CCTV_DIR OUT_DIR
set -euo pipefail
filmcolor batch "${1:?CCTV_DIR}" -o "${2:?OUT_DIR}" --retries 2 --report "${2}/batch_report.json"
# On a Ray cluster (pip install 'filmcolor[ray]'):  filmcolor batch IN -o OUT --ray auto
