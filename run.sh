#!/usr/bin/env bash
# The main job: build jitsim, then
#   1. the story's demo (examples/seed/demo.c, built with clang-19 when it is
#      installed, else the checked-in object) on every engine under both
#      tail call count schemes: one table, legacy 33 + 33, fixed 33 + 0;
#   2. the whole conformance suite (the public bpf_conformance files and our
#      own cases) on every engine in both schemes.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
go build -o bin/jitsim ./cmd/jitsim

obj=examples/seed/demo.o
if command -v clang-19 >/dev/null && [ -f /usr/include/bpf/bpf_helpers.h ]; then
	# examples/build.sh's flags, from the project root so the object's line
	# info names examples/seed/demo.c; into bin/, leaving the checked-in
	# object alone.
	clang-19 -target bpf -O2 -g -fdebug-prefix-map="$PWD"=. -I"/usr/include/$(uname -m)-linux-gnu" \
		-c examples/seed/demo.c -o bin/demo.o
	obj=bin/demo.o
	echo "== demo: examples/seed/demo.c built with $(clang-19 --version | head -n1)"
else
	echo "== demo: the checked-in examples/seed/demo.o (clang-19 or libbpf-dev missing)"
fi
bin/jitsim demo -obj "$obj"

echo
echo "== conformance: every engine, both tail call count schemes"
shared=${JITSIM_SHARED:-../shared}
bin/jitsim conform -tcc both "$shared/bpf_conformance/tests" conformance/testdata
