#!/usr/bin/env bash
# Installs headless Chromium (Debian's chromium package) for the console's
# browser test, unless a Chromium is already on PATH or in $CHROMIUM.
set -euo pipefail
if [[ -n "${CHROMIUM:-}" && -x "${CHROMIUM}" ]]; then
	exit 0
fi
for name in chromium chromium-browser google-chrome google-chrome-stable; do
	if command -v "$name" >/dev/null 2>&1; then
		exit 0
	fi
done
if ! command -v apt-get >/dev/null 2>&1; then
	echo "chromium.sh: no Chromium and no apt-get: install Chromium or set CHROMIUM" >&2
	exit 1
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
	sudo="sudo"
fi
echo "chromium.sh: installing chromium with apt-get" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >/dev/null
command -v chromium
