#!/bin/sh
# deps.sh - install the Debian packages ProfAI builds, runs and tests with (`make deps`).
#
# Does nothing, quietly and in a few milliseconds, when every package is present: one
# dpkg-query call decides. Otherwise installs only the missing ones with apt-get (as root, or
# through sudo when it exists), running `apt-get update` first. On a system without apt-get,
# or as a user without sudo, prints the command to run and fails.
set -eu

# One package a line; keep in step with README.md and docs/operations.md.
PACKAGES="
build-essential
pkg-config
libzmq3-dev
libczmq-dev
libpq-dev
libsodium-dev
libmsgpack-dev
libpoppler-glib-dev
libglib2.0-dev
libcivetweb-dev
libcairo2-dev
libcmocka-dev
clang
libclang-rt-14-dev
llvm
libseccomp-dev
libsystemd-dev
postgresql
systemd
poppler-utils
qpdf
curl
nginx
python3
python3-pytest
python3-pytest-xdist
python3-uvloop
python3-requests
python3-zmq
python3-msgpack
python3-psycopg2
python3-fitz
python3-cairo
python3-jsonschema
docbook-xsl-doc-pdf
auto-multiple-choice-doc-pdf
chromium
nodejs
iproute2
nftables
"
# npm: Debian's nodejs needs the separate npm package; NodeSource's nodejs (as on our build
# machines) bundles npm and conflicts with it. The browser test needs Node.js >= 20.
if ! command -v npm >/dev/null 2>&1; then PACKAGES="$PACKAGES npm"; fi

# Print the packages of $PACKAGES that dpkg does not list as installed ("ii").
s_missing() {
    installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $PACKAGES 2>/dev/null |
                awk '$1 == "ii" { print $2 }' | sed 's/:.*//' | sort -u)
    for pkg in $PACKAGES; do
        case "
$installed
" in
            *"
$pkg
"*) ;;
            *) printf '%s\n' "$pkg" ;;
        esac
    done
}

# Docker's "slim" Debian images tell dpkg to skip /usr/share/doc; the system tests read real
# PDF manuals from there, so say so instead of letting a test fail mysteriously later.
s_warn_missing_manuals() {
    if ! dpkg -L auto-multiple-choice-doc-pdf 2>/dev/null | grep '\.pdf$' |
         while read -r f; do [ -e "$f" ] && echo found; done | grep -q found; then
        echo "deps.sh: warning: auto-multiple-choice-doc-pdf is installed but its PDF manuals are" \
             "missing (a path-exclude in /etc/dpkg/dpkg.cfg.d/ ?); the system tests need them:" \
             "remove the exclusion and run apt-get install --reinstall auto-multiple-choice-doc-pdf" >&2
    fi
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: not a Debian system; install the equivalents of:" $PACKAGES >&2
    exit 1
fi

missing=$(s_missing)
if [ -z "$missing" ]; then
    s_warn_missing_manuals
    exit 0
fi
missing=$(echo $missing)    # one line

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "deps.sh: missing packages: $missing" >&2
    echo "deps.sh: as root, run: apt-get update && apt-get install --no-install-recommends $missing" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: missing packages and no apt-get: $missing" >&2
    exit 1
fi

echo "deps.sh: installing $missing"
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
# Installing postgresql may create and start Debian's default cluster, and installing nginx
# Debian's default site on port 80; ProfAI uses neither (scripts/pg.sh runs a private cluster
# inside the checkout, scripts/run.sh its own nginx with a configuration under var/edge).
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing

still=$(s_missing)
if [ -n "$still" ]; then
    echo "deps.sh: still missing after apt-get install:" $still >&2
    exit 1
fi
s_warn_missing_manuals
