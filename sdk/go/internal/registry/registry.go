// Package registry holds what a plugin module registered from its init functions: at most
// one executor and at most one hook. It is shared by package apflow (executors) and package
// hook (hooks), which is why it stores untyped values.
//
// The registry is written only during package initialisation (Register calls in init
// functions) and read afterwards by the exports, so it needs no locking in a wasm
// instance; the mutex makes native tests that register from several goroutines safe too.
package registry

import (
	"fmt"
	"sync"
)

var (
	mu      sync.Mutex
	exec    any
	hook    any
	version int
)

// SetExecutor records the module's executor. Registering a second one is an error.
func SetExecutor(e any) error {
	mu.Lock()
	defer mu.Unlock()
	if exec != nil {
		return fmt.Errorf("an executor is already registered; a module has at most one")
	}
	exec = e
	version++
	return nil
}

// SetHook records the module's hook. Registering a second one is an error.
func SetHook(h any) error {
	mu.Lock()
	defer mu.Unlock()
	if hook != nil {
		return fmt.Errorf("a hook is already registered; a module has at most one")
	}
	hook = h
	version++
	return nil
}

// Snapshot returns what is registered and a version number that changes on every
// registration, so callers can cache what they derive from it.
func Snapshot() (e, h any, v int) {
	mu.Lock()
	defer mu.Unlock()
	return exec, hook, version
}
