#!/bin/sh
# Regenerates docs/report-example.png, the README's picture of the report
# message, from the current rendering: the Block Kit JSON that
# `cvmlogin diagnose ins-sgdrop01 --simulate --output blocks` prints, drawn
# as HTML by docs/blockkithtml and screenshotted by headless Chromium
# (Debian: apt-get install chromium). Run from the repository root:
#
#	sh docs/report-picture.sh
set -eu
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ]; then
	echo "report-picture: Chromium not found: apt-get install chromium, or set CHROMIUM" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go run ./cmd/cvmlogin diagnose ins-sgdrop01 --simulate --output blocks >"$work/blocks.json" 2>"$work/diagnose.err" || [ $? -eq 1 ] # exit 1: a check failed, as expected
go run ./docs/blockkithtml <"$work/blocks.json" >"$work/report.html"
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--hide-scrollbars --user-data-dir="$work/profile" --window-size=860,${HEIGHT:-620} \
	--screenshot="$work/report.png" "file://$work/report.html" 2>/dev/null
mv "$work/report.png" docs/report-example.png
echo "report-picture: wrote docs/report-example.png"
