#!/bin/sh
# browser-deps.sh - install the browser test's npm modules (tests/browser/node_modules).
#
# Usage: sh scripts/browser-deps.sh
#
# The browser test (tests/browser/upload_and_quiz.mjs, run by tests/system/test_browser.py)
# drives Debian's /usr/bin/chromium with playwright-core, pinned to one exact version in
# tests/browser/package.json and package-lock.json. This script runs `npm ci` there when the
# installed playwright-core is missing or not the pinned version, and otherwise does nothing in
# a few milliseconds. It never downloads a browser: playwright-core has no install script, and
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD makes sure of it. The Debian packages it needs (nodejs, npm,
# chromium) come from scripts/deps.sh; without them it says so and fails.
set -eu
cd "$(dirname "$0")/../tests/browser"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "browser-deps.sh: $tool is missing: run \`make deps\` (Debian packages nodejs npm)" >&2
        exit 1
    fi
done

# playwright-core 1.5x and later need Node.js 20 (Debian 12's own nodejs is 18).
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
    echo "browser-deps.sh: Node.js $(node --version) is too old for playwright-core: 20 or later is needed" >&2
    exit 1
fi

# The pinned version, read from package.json ("playwright-core": "X.Y.Z").
want=$(sed -n 's/.*"playwright-core": *"\([0-9][0-9.]*\)".*/\1/p' package.json | head -n 1)
if [ -z "$want" ]; then
    echo "browser-deps.sh: no exact playwright-core version in tests/browser/package.json" >&2
    exit 1
fi
have=""
if [ -f node_modules/playwright-core/package.json ]; then
    have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' node_modules/playwright-core/package.json |
           head -n 1)
fi
if [ "$have" = "$want" ]; then
    exit 0
fi

echo "browser-deps.sh: installing playwright-core $want into tests/browser/node_modules"
# tests/browser/.npmrc keeps download addresses out of package-lock.json.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
