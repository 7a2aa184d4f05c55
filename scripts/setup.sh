#!/usr/bin/env bash
# Installs what jitsim needs on a Debian machine, and only what is missing:
# the Debian packages its cgo simulator links against, then the Go modules.
# Sourced by run.sh and test.sh.
set -euo pipefail

export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"

jitsim_packages=(libunicorn-dev pkg-config gcc)

missing=()
for p in "${jitsim_packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null; then
	echo "setup: no Go toolchain on PATH (want go 1.26 at /usr/local/go)" >&2
	exit 1
fi
go mod download
