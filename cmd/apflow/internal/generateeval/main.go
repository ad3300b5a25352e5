// Command generateeval scores apflow generate on the evaluation set of
// examples/generate/cases: for each case it runs the apflow binary (apflow generate -o)
// against whatever language model the operator config names, checks the tree against
// the case's expected properties and prints a score table. See docs/generate.md.
//
//	go run ./cmd/apflow/internal/generateeval -bin bin/apflow -plugins build/plugins [-config FILE] [-mode multi] [-only REGEXP]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "generateeval:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, plugins, config, mode, cases, only string
	timeout                                 time.Duration
}

func run(args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("generateeval", flag.ContinueOnError)
	fs.StringVar(&o.bin, "bin", "bin/apflow", "the apflow binary")
	fs.StringVar(&o.plugins, "plugins", "build/plugins", "plugins directory: the executors the trees may use")
	fs.StringVar(&o.config, "config", "", "operator config naming the language model (its llm section); default: apflow's")
	fs.StringVar(&o.mode, "mode", "multi", "generation mode: single or multi")
	fs.StringVar(&o.cases, "cases", "examples/generate/cases", "directory of the cases")
	fs.StringVar(&o.only, "only", "", "run only the cases whose name matches this regular expression")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "bound of one generation")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cases, err := loadCases(o.cases, o.only)
	if err != nil {
		return err
	}
	home, err := os.MkdirTemp("", "apflow-generate-eval-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tVALID\tCHECKS\tSCORE\tTIME\tFAILED CHECKS")
	var total float64
	for _, c := range cases {
		start := time.Now()
		tree, genErr := generateTree(o, home, c)
		score, passed, n, failed := 0.0, 0, 0, []string{}
		if genErr == nil {
			checks, err := Score(c.Expect, tree)
			if err != nil {
				genErr = err
			}
			for _, ch := range checks {
				n++
				if ch.OK {
					passed++
				} else {
					failed = append(failed, ch.Name)
				}
			}
			if n > 0 {
				score = float64(passed) / float64(n)
			}
		}
		valid := "yes"
		if genErr != nil {
			valid, failed = "no", []string{firstLine(genErr.Error())}
		}
		total += score
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.2f\t%s\t%s\n", c.Name, valid, passed, n, score, time.Since(start).Round(100*time.Millisecond), strings.Join(failed, "; "))
	}
	fmt.Fprintf(tw, "TOTAL\t\t\t%.2f / %d\t\t\n", total, len(cases))
	return tw.Flush()
}

func loadCases(dir, only string) ([]Case, error) {
	re, err := regexp.Compile(only)
	if err != nil {
		return nil, fmt.Errorf("-only: %w", err)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []Case
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		if !re.MatchString(name) {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var c Case
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		c.Name = name
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no case in %s", dir)
	}
	return out, nil
}

// generateTree runs apflow generate for c and returns the tree it wrote.
func generateTree(o options, home string, c Case) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	outFile := filepath.Join(home, c.Name+".tree.json")
	args := []string{"generate", "--data-dir", filepath.Join(home, "data"), "--plugins", o.plugins, "--mode", o.mode, "-o", outFile}
	if o.config != "" {
		args = append(args, "--config", o.config)
	}
	args = append(args, c.Requirement)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, o.bin, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return os.ReadFile(outFile)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
