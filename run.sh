#!/usr/bin/env bash
# The main job: build jitsim and run the whole conformance suite (the public
# bpf_conformance files and our own cases) on every engine in both tail
# call count schemes.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
go build -o bin/jitsim ./cmd/jitsim
shared=${JITSIM_SHARED:-../shared}
bin/jitsim conform -tcc both "$shared/bpf_conformance/tests" conformance/testdata
