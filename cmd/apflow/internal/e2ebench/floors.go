package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// floors are the figures of the repository's own benchmarks, by benchmark name (without
// the GOMAXPROCS suffix) and unit.
type floors map[string]map[string]float64

// benchLine is a result line of go test -bench: name, iterations, then value-unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// fixedFloors are the floors of every workload: one fsync, the bare wazero round trip.
var fixedFloors = [][]string{
	{"-bench", "^BenchmarkFsync$", "-benchtime", "200x", "./host/engine/"},
	{"-bench", "^BenchmarkRoundTripRaw$/^deadline$", "-benchtime", "20000x", "./host/sandbox/"},
}

// engineFloor is the engine floor of one workload.
func engineFloor(wl workload) []string {
	return []string{"-bench", "^BenchmarkFloor$/^" + regexp.QuoteMeta(wl.name) + "$", "-benchtime", "1x", "-timeout", "60m", "./host/engine/"}
}

// measureFloors runs floor benchmarks (go test arguments after -run) with goBin,
// printing each command, and adds their results to out.
func measureFloors(ctx context.Context, goBin string, runs [][]string, out floors) error {
	for _, r := range runs {
		args := append([]string{"test", "-run", "^$", "-count=1"}, r...)
		fmt.Printf("floor: %s %s\n", goBin, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, goBin, args...)
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w\n%s", goBin, strings.Join(args, " "), err, buf.String())
		}
		parseBench(&buf, out)
	}
	return nil
}

func parseBench(buf *bytes.Buffer, out floors) {
	s := bufio.NewScanner(buf)
	for s.Scan() {
		m := benchLine.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		fields := strings.Fields(m[2])
		metrics := map[string]float64{}
		for i := 0; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				metrics[fields[i+1]] = v
			}
		}
		out[m[1]] = metrics
	}
}

// engine is the engine floor of a workload in µs per task, or 0 when not measured.
func (f floors) engine(wl workload) float64 { return f[engineKey(wl)]["µs/task"] }

// forgetEngine drops the engine floor of a workload, so that a later measure that fails
// leaves none rather than an earlier one.
func (f floors) forgetEngine(wl workload) { delete(f, engineKey(wl)) }

// engineKey is the name the engine floor of a workload is reported under.
func engineKey(wl workload) string { return "BenchmarkFloor/" + wl.name }

// fsync is one fsync in µs, or 0.
func (f floors) fsync() float64 { return f["BenchmarkFsync"]["ns/op"] / 1e3 }

// roundTrip is the bare wazero call in µs, or 0.
func (f floors) roundTrip() float64 { return f["BenchmarkRoundTripRaw/deadline"]["ns/op"] / 1e3 }
