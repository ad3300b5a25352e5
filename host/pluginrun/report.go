package pluginrun

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteLog writes the outcome's log lines, its usage, the requests the fixture did not
// answer and its error to w, one per line, each prefixed with what it is:
//
//	log   info  greeting Ada
//	usage 1.2 ms, peak memory 18 pages (1.1 MiB), 12 bytes in, 27 bytes out, 1 host call
//	error inputs do not match the input schema: …
func (o *Outcome) WriteLog(w io.Writer) {
	for _, l := range o.Logs {
		fmt.Fprintf(w, "log   %s\n", l)
	}
	if !o.InvalidInput() { // the plugin did not run
		fmt.Fprintf(w, "usage %s\n", o.usageLine())
	}
	for _, u := range o.Unmatched {
		fmt.Fprintf(w, "http  no fixture pair answered %s\n", u)
	}
	if o.Error != "" {
		fmt.Fprintf(w, "error %s\n", o.Error)
	}
}

func (o *Outcome) usageLine() string {
	u := o.Usage
	parts := []string{duration(u.DurationMS)}
	if u.PeakMemoryPages > 0 {
		parts = append(parts, fmt.Sprintf("peak memory %d %s (%s)", u.PeakMemoryPages,
			plural(int(u.PeakMemoryPages), "page", "pages"), kib(int64(u.PeakMemoryPages)*65536)))
	}
	parts = append(parts, fmt.Sprintf("%d bytes in", u.BytesIn), fmt.Sprintf("%d bytes out", u.BytesOut))
	if u.HostCalls == 1 {
		parts = append(parts, "1 host call")
	} else {
		parts = append(parts, fmt.Sprintf("%d host calls", u.HostCalls))
	}
	return strings.Join(parts, ", ")
}

// duration writes a call's time in milliseconds with three significant digits, never
// in exponent form: 0.195 ms, 12.4 ms, 3010 ms.
func duration(ms float64) string {
	if ms >= 100 {
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(ms, 'g', 3, 64) + " ms"
}

func kib(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// Indent returns a JSON document indented by two spaces, or doc as it is when it is not
// JSON.
func Indent(doc []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, doc, "", "  "); err != nil {
		return string(doc)
	}
	return b.String()
}
