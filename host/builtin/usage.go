package builtin

import (
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// usage reports the cost of a built-in execution: wall time and bytes in and out.
func usage(start time.Time, in, out int) task.Usage {
	return task.Usage{
		DurationMS: float64(time.Since(start).Microseconds()) / 1000,
		BytesIn:    int64(in),
		BytesOut:   int64(out),
	}
}
