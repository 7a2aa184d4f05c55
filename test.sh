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
for target in $(go test -list '^Fuzz' ./... 2>/dev/null | grep -E '^(Fuzz|ok)' | awk '/^Fuzz/{f=f" "$1} /^ok/{if(f!="")print $2":"f; f=""}'); do
	pkg=${target%%:*}
	for fz in ${target#*:}; do
		go test -run '^$' -fuzz "^${fz}\$" -fuzztime "$fuzz_time" "$pkg" >/dev/null
		echo "fuzz $pkg $fz: $fuzz_time clean"
	done
done

echo "== jitsim conform"
go build -o bin/jitsim ./cmd/jitsim
shared=${JITSIM_SHARED:-../shared}
bin/jitsim conform -tcc both "$shared/bpf_conformance/tests" conformance/testdata

echo "== go test"
go test -count=1 ./...
