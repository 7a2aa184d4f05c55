#!/usr/bin/env bash
# Builds jitsim's example BPF objects from their C sources: every .c under
# examples/ and core/load/testdata/ becomes the .o beside it, with the flags
# the kernel selftests use (-O2 -g: BTF, line info and CO-RE records).
#
# The built objects are checked in, so jitsim builds and tests without
# clang: when clang-19 or libbpf's headers are missing this script says so
# and leaves the checked-in objects alone. scripts/setup.sh installs both
# when apt can.
#
# Usage: examples/build.sh [-f]   (-f: stop with an error when clang is missing)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
clang=${CLANG:-clang-19}

if ! command -v "$clang" >/dev/null || [ ! -f /usr/include/bpf/bpf_helpers.h ]; then
	echo "build.sh: $clang or libbpf-dev (bpf/bpf_helpers.h) missing; keeping the checked-in objects" >&2
	[ "${1:-}" = -f ] && exit 1
	exit 0
fi

# <asm/types.h> and friends live in the multiarch include directory, which
# clang does not search for -target bpf.
multiarch=/usr/include/$(uname -m)-linux-gnu
# -fdebug-prefix-map keeps the checkout path out of the objects, so a
# rebuild anywhere gives the same bytes.

cd "$root"
find examples core/load/testdata -name '*.c' -print | sort | while read -r src; do
	obj=${src%.c}.o
	"$clang" -target bpf -O2 -g -fdebug-prefix-map="$root"=. -I"$multiarch" -c "$src" -o "$obj"
	echo "$obj"
done
