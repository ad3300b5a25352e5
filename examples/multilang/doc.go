// Package multilang holds the multi-language demo tree (tree.json): executors written in
// Go, Rust, C and AssemblyScript run in one tree, and a Go step combines their results.
// The package has no code of its own; its test runs the tree through the real apflow
// binary and checks every language's result (see README.md).
package multilang
