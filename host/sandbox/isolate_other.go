//go:build !linux

package sandbox

import "syscall"

// workerAttr is nil off Linux: a compile worker outlives a killed host there, until its
// compile ends (see isolate_linux.go).
func workerAttr() *syscall.SysProcAttr { return nil }
