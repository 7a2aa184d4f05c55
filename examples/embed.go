// Package examples holds jitsim's example BPF programs: C sources and the
// objects clang built from them (see README.md), and tests that run every
// object on every engine under both tail call count schemes. The seed's
// demo object is embedded so `jitsim demo` runs from anywhere.
package examples

import _ "embed"

// Demo is seed/demo.o as checked in: the story's tailcall hierarchy demo.
//
//go:embed seed/demo.o
var Demo []byte
