#!/bin/sh
# bench-deps.sh - install the Debian packages `make bench` compares ProfAI against
# (docs/performance.md, "Benchmarks"). Separate from deps.sh: building, running and testing
# ProfAI never needs them.
#
# Does nothing when every package is present; otherwise installs the missing ones with apt-get
# (as root, or through sudo), running `apt-get update` first. Redis is started by the
# benchmark itself on a private port: the Debian service, if the package starts it, is unused.
set -eu

# One package a line.
PACKAGES="
beanstalkd
redis-server
python3-celery
python3-redis
python3-pypdf
python3-fastapi
python3-uvicorn
wrk
python3-fitz
python3-psycopg2
poppler-utils
qpdf
auto-multiple-choice-doc-pdf
docbook-xsl-doc-pdf
"

s_missing() {
    installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $PACKAGES 2>/dev/null |
                awk '$1 == "ii" { print $2 }' | sed 's/:.*//' | sort -u)
    for pkg in $PACKAGES; do
        echo "$installed" | grep -qx "$pkg" || printf '%s\n' "$pkg"
    done
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "bench-deps.sh: not a Debian system; install the equivalents of:" $PACKAGES >&2
    exit 1
fi
missing=$(s_missing)
[ -z "$missing" ] && exit 0
missing=$(echo $missing)
if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "bench-deps.sh: as root, run: apt-get update && apt-get install --no-install-recommends $missing" >&2
    exit 1
fi
echo "bench-deps.sh: installing $missing"
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
still=$(s_missing)
if [ -n "$still" ]; then
    echo "bench-deps.sh: still missing after apt-get install:" $still >&2
    exit 1
fi
