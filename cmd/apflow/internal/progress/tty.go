package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// TTY redraws the task tree in place on a terminal.
type TTY struct {
	w        io.Writer
	m        *model
	title    string
	width    int
	height   int
	start    time.Time
	interval time.Duration

	mu    sync.Mutex
	drawn int // lines drawn last time, to move the cursor back over them
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// TTYOptions configure a TTY view.
type TTYOptions struct {
	Title    string        // first line, e.g. the tree file name
	Width    int           // terminal columns; lines are cut to fit (default 100)
	Height   int           // terminal rows; the view uses at most Height-1 (default 40)
	Interval time.Duration // redraw period (default 100ms)
}

// NewTTY returns a View that redraws the tree of tasks on w until closed. It reads each
// task of tasks once, and keeps only what it shows of them.
func NewTTY(w io.Writer, tasks store.Batch, opts TTYOptions) *TTY {
	if opts.Width <= 0 {
		opts.Width = 100
	}
	if opts.Height <= 0 {
		opts.Height = 40
	}
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	v := &TTY{w: w, m: newModel(tasks), title: opts.Title, width: opts.Width, height: opts.Height,
		start: time.Now(), interval: opts.Interval,
		stop: make(chan struct{}), done: make(chan struct{})}
	go v.loop()
	return v
}

// Apply implements View.
func (v *TTY) Apply(u Update) {
	v.m.apply(u)
}

// Close implements View: it draws the final state once more and returns.
func (v *TTY) Close() {
	v.once.Do(func() {
		close(v.stop)
		<-v.done
		v.draw()
	})
}

func (v *TTY) loop() {
	defer close(v.done)
	t := time.NewTicker(v.interval)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
			// Redraw every tick, changed or not, so the elapsed time moves.
			v.draw()
		}
	}
}

func (v *TTY) draw() {
	lines := v.render()
	v.mu.Lock()
	defer v.mu.Unlock()
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	}
	for _, l := range lines {
		b.WriteString("\r\x1b[2K")
		b.WriteString(l)
		b.WriteString("\n")
	}
	// Clear lines left over from a taller previous frame.
	for i := len(lines); i < v.drawn; i++ {
		b.WriteString("\r\x1b[2K\n")
	}
	if extra := v.drawn - len(lines); extra > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", extra)
	}
	io.WriteString(v.w, b.String())
	v.drawn = len(lines)
}

// render returns the frame: a title line with elapsed time and counts, then the tree.
func (v *TTY) render() []string {
	v.m.mu.Lock()
	defer v.m.mu.Unlock()
	elapsed := time.Since(v.start).Round(100 * time.Millisecond)
	lines := []string{v.cut(fmt.Sprintf("%s  %s  %s", v.title, elapsed, v.m.summary()))}
	room := v.height - 2
	if room < 3 {
		room = 3
	}
	shown := v.m.order
	hidden := 0
	if len(shown) > room {
		shown, hidden = pickInteresting(v.m.order, room-1)
	}
	for _, n := range shown {
		line := fmt.Sprintf("%s%s %s", strings.Repeat("  ", n.depth), n.symbol(), n.label())
		if d := n.detail(); d != "" {
			line += "  " + d
		}
		lines = append(lines, v.cut(line))
	}
	if hidden > 0 {
		lines = append(lines, fmt.Sprintf("… and %d more tasks", hidden))
	}
	return lines
}

// pickInteresting chooses at most max tasks to show from a tree too large for the
// screen: running ones first, then failed, blocked and cancelled, then the rest, and
// returns them in display order with the number left out.
func pickInteresting(order []*node, max int) ([]*node, int) {
	rank := func(n *node) int {
		switch {
		case n.status == task.InProgress:
			return 0
		case n.status == task.Failed:
			return 1
		case n.blocked(), n.status == task.Cancelled:
			return 2
		case n.depth == 0:
			return 3
		}
		return 4
	}
	keep := make(map[*node]bool, max)
	for r := 0; r <= 4 && len(keep) < max; r++ {
		for _, n := range order {
			if len(keep) >= max {
				break
			}
			if rank(n) == r {
				keep[n] = true
			}
		}
	}
	out := make([]*node, 0, len(keep))
	for _, n := range order {
		if keep[n] {
			out = append(out, n)
		}
	}
	return out, len(order) - len(out)
}

func (v *TTY) cut(s string) string {
	r := []rune(s)
	if len(r) > v.width {
		return string(r[:v.width-1]) + "…"
	}
	return s
}
