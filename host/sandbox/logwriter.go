package sandbox

import (
	"bytes"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

const (
	// maxLogLine truncates one guest log line (apflow.log or a WASI stdout/stderr line).
	maxLogLine = 16 << 10
	// maxLogBytesPerCall bounds how much a guest can log per call; the rest is dropped.
	maxLogBytesPerCall = 1 << 20
	// stderrTail is how much of a call's stderr is kept to explain an abnormal exit.
	stderrTail = 4 << 10
)

// logWriter turns a guest's WASI stdout or stderr into log lines of the current call's
// logger. An instance keeps one per stream for its whole life; the pool points it at the
// logger of each call (start) and flushes it afterwards (finish).
type logWriter struct {
	stream string
	level  hclog.Level

	mu      sync.Mutex
	logger  hclog.Logger
	line    []byte
	written int
	dropped bool
	tail    []byte // last bytes written in this call (stderr only)
	keep    bool
}

func newLogWriter(stream string, level hclog.Level, keepTail bool) *logWriter {
	return &logWriter{stream: stream, level: level, keep: keepTail, logger: hclog.NewNullLogger()}
}

// start points the writer at logger for one call and forgets the previous call's tail.
func (w *logWriter) start(logger hclog.Logger) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.logger, w.written, w.dropped, w.tail, w.line = logger, 0, false, w.tail[:0], w.line[:0]
}

// Write implements io.Writer for wazero's WASI fd_write.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	if w.keep {
		w.tail = append(w.tail, p...)
		if len(w.tail) > stderrTail {
			w.tail = append(w.tail[:0], w.tail[len(w.tail)-stderrTail:]...)
		}
	}
	if w.written+len(p) > maxLogBytesPerCall {
		p = p[:max(0, maxLogBytesPerCall-w.written)]
		if !w.dropped {
			w.dropped = true
			defer w.logger.Warn("guest output truncated", "stream", w.stream, "limit_bytes", maxLogBytesPerCall)
		}
	}
	w.written += len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.line = append(w.line, p[:min(len(p), max(0, maxLogLine-len(w.line)))]...)
			break
		}
		w.line = append(w.line, p[:min(i, max(0, maxLogLine-len(w.line)))]...)
		w.emit()
		p = p[i+1:]
	}
	return n, nil
}

// finish logs a pending partial line and returns the call's stderr tail.
func (w *logWriter) finish() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.line) > 0 {
		w.emit()
	}
	return string(w.tail)
}

func (w *logWriter) emit() {
	w.logger.Log(w.level, strings.TrimRight(string(w.line), "\r"), "stream", w.stream)
	w.line = w.line[:0]
}

// panicLine finds a Go (or Rust) panic message in a stderr tail: the line starting with
// "panic: " or "fatal error: ", or containing "panicked at"; or C's failed assert, the
// line starting with "Assertion failed: ".
func panicLine(tail string) string {
	for _, line := range strings.Split(tail, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") || strings.Contains(l, "panicked at") ||
			strings.HasPrefix(l, "Assertion failed: ") { // C's assert (wasi-libc), before its abort
			return l
		}
	}
	return ""
}

// lastLine returns the last non-empty line of s, shortened to 200 bytes.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > 200 {
		l = l[:200] + "…"
	}
	return l
}
