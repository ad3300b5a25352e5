// Command math_ops is the math_ops executor: descriptive statistics over a list of
// numbers.
package main

import (
	"math"
	"slices"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the executor's inputs.
type In struct {
	Numbers []float64 `json:"numbers" jsonschema:"required" description:"The numbers to summarise."`
	Round   *int      `json:"round,omitempty" jsonschema:"minimum=0,maximum=12" description:"Round every result to this many decimals."`
}

// Out is the executor's result. Statistics that are undefined for an empty list (mean,
// median, min, max, variance, stddev) are null then.
type Out struct {
	Count    int      `json:"count"`
	Sum      float64  `json:"sum"`
	Product  float64  `json:"product"`
	Mean     *float64 `json:"mean"`
	Median   *float64 `json:"median"`
	Min      *float64 `json:"min"`
	Max      *float64 `json:"max"`
	Variance *float64 `json:"variance" description:"Population variance."`
	StdDev   *float64 `json:"stddev" description:"Population standard deviation."`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID:          "math_ops",
		Name:        "Math operations",
		Description: "Count, sum, product, mean, median, min, max, variance and standard deviation of a list of numbers.",
		Version:     "1.0.0",
		Tags:        []string{"math", "demo"},
		Run:         run,
	})
}

func run(ctx *apflow.Context, in In) (Out, error) {
	round := func(v float64) float64 {
		if in.Round == nil {
			return v
		}
		p := math.Pow(10, float64(*in.Round))
		return math.Round(v*p) / p
	}
	ptr := func(v float64) *float64 { r := round(v); return &r }
	out := Out{Count: len(in.Numbers), Product: 1}
	for _, n := range in.Numbers {
		out.Sum += n
		out.Product *= n
	}
	if len(in.Numbers) == 0 {
		out.Product = 0
		return out, nil
	}
	if math.IsInf(out.Sum, 0) || math.IsInf(out.Product, 0) {
		return Out{}, apflow.NewError("overflow", "the sum or product overflows a float64", map[string]any{"count": out.Count})
	}
	n := float64(len(in.Numbers))
	mean := out.Sum / n
	var sq float64
	for _, x := range in.Numbers {
		sq += (x - mean) * (x - mean)
	}
	sorted := slices.Sorted(slices.Values(in.Numbers))
	median := sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		median = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	out.Sum, out.Product = round(out.Sum), round(out.Product)
	out.Mean, out.Median = ptr(mean), ptr(median)
	out.Min, out.Max = ptr(sorted[0]), ptr(sorted[len(sorted)-1])
	out.Variance, out.StdDev = ptr(sq/n), ptr(math.Sqrt(sq/n))
	ctx.Log.Debug("summarised", "count", out.Count)
	return out, nil
}
