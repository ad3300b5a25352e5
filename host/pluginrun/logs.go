package pluginrun

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// LogLine is one line a call logged: the plugin's apflow.log lines, its stdout and
// stderr lines (Fields["stream"]), and the sandbox's own lines about the call (a refused
// host call, the failure).
type LogLine struct {
	Level   string         `json:"level"`
	Message string         `json:"message"`
	Fields  map[string]any `json:"fields,omitempty"`
}

// String renders the line as "level message key=value ...", keys sorted.
func (l LogLine) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-5s %s", l.Level, l.Message)
	keys := make([]string, 0, len(l.Fields))
	for k := range l.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, l.Fields[k])
	}
	return b.String()
}

// logCapture is a logger that keeps every line of one call, at every level.
type logCapture struct {
	buf *logbuf.Buffer
	log hclog.Logger
}

func newLogCapture() *logCapture {
	buf := &logbuf.Buffer{}
	return &logCapture{buf: buf, log: hclog.New(&hclog.LoggerOptions{
		Output: buf, Level: hclog.Trace, JSONFormat: true, DisableTime: true,
	})}
}

// lines decodes what was logged, in order.
func (c *logCapture) lines() []LogLine {
	var out []LogLine
	sc := bufio.NewScanner(bytes.NewReader([]byte(c.buf.String())))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber() // 1048576, not 1.048576e+06
		if err := dec.Decode(&m); err != nil {
			out = append(out, LogLine{Level: "info", Message: sc.Text()})
			continue
		}
		l := LogLine{}
		l.Level, _ = m["@level"].(string)
		l.Message, _ = m["@message"].(string)
		for k, v := range m {
			if strings.HasPrefix(k, "@") {
				continue
			}
			if l.Fields == nil {
				l.Fields = map[string]any{}
			}
			l.Fields[k] = v
		}
		out = append(out, l)
	}
	return out
}
