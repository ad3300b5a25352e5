package sandbox

import "syscall"

// workerAttr makes the kernel kill a compile worker when the thread that started it
// ends: when this process dies, even killed, the worker does not go on compiling as an
// orphan. (The signal follows the starting thread, not the process; the Go runtime
// ends a thread only when a goroutine locked to it returns, which no caller here is.)
func workerAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
