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

# Optional: clang-19 and libbpf's headers rebuild the example BPF objects
# (examples/build.sh). The built objects are checked in, so nothing fails
# when apt cannot install these.
optional_packages=(clang-19 libbpf-dev)
missing=()
for p in "${optional_packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	echo "setup: installing optional ${missing[*]}" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
		echo "setup: could not install ${missing[*]}; examples/build.sh will keep the checked-in objects" >&2
fi

if ! command -v go >/dev/null; then
	echo "setup: no Go toolchain on PATH (want go 1.26 at /usr/local/go)" >&2
	exit 1
fi
go mod download
