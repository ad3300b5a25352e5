package submit

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkPrepareWide is the submission part of apflow run and tasks.execute (decode,
// validate, build) of a root with n children that have inputs, at three sizes: its
// µs/task should stay flat as n grows (linear cost).
func BenchmarkPrepareWide(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			var sb strings.Builder
			sb.WriteString(`[{"name":"root","schemas":{"method":"echo"}}`)
			for i := 0; i < n; i++ {
				fmt.Fprintf(&sb, `,{"name":"c%d","parent_id":"root","schemas":{"method":"echo"},"inputs":{"i":%d}}`, i, i)
			}
			sb.WriteString("]")
			data := []byte(sb.String())
			opts, _ := setup(b)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Prepare(context.Background(), data, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*(n+1)), "µs/task")
		})
	}
}
