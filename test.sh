#!/usr/bin/env bash
# Every test: formatting, vet, staticcheck, the Go tests (which include the
# conformance suite on every engine), short fuzz smoke runs and the CLI's
# conformance run. Long fuzzing belongs to `go test -fuzz` by hand.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-clean:" $unformatted
	exit 1
fi
echo "== go vet"
go vet ./...
echo "== staticcheck"
if ! command -v staticcheck >/dev/null; then
	go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
staticcheck ./...

echo "== fuzz smoke"
fuzz_time=${JITSIM_FUZZTIME:-10s}
# go test -list prints a package's fuzz targets, then its "ok PKG" line.
go test -list '^Fuzz' ./... | awk '/^Fuzz/{n[++c]=$1} /^ok/{for(i=1;i<=c;i++)print $2, n[i]; c=0}' >.fuzz-targets
while read -r pkg fz; do
	if ! go test -run '^$' -fuzz "^${fz}\$" -fuzztime "$fuzz_time" -fuzzminimizetime 5s "$pkg" >.fuzz-log 2>&1 </dev/null; then
		cat .fuzz-log
		echo "fuzz $pkg $fz: FAILED"
		exit 1
	fi
	echo "fuzz $pkg $fz: $fuzz_time, no failure"
done <.fuzz-targets
rm -f .fuzz-targets .fuzz-log

echo "== jitsim conform"
go build -o bin/jitsim ./cmd/jitsim
shared=${JITSIM_SHARED:-../shared}
bin/jitsim conform -tcc both "$shared/bpf_conformance/tests" conformance/testdata

echo "== go test"
go test -count=1 -timeout 20m ./...
