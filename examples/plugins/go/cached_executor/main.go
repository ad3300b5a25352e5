// Command cached_executor is the Go SDK's example of a cache in a plugin (the
// CachedExecutor pattern): it counts the primes below n, an expensive computation, and
// keeps each result in the plugin's key-value space under a hash of its canonical
// input, so that the same input later answers from the cache with "cached": true
// instead of computing again. Instances are recycled and hold nothing between tasks:
// the kv grant is what makes the cache outlive them, and the host's restarts too.
//
// Grants: kv (docs/kv.md). Without it the task fails with code kv_not_granted.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the executor's inputs.
type In struct {
	N int `json:"n" jsonschema:"required,minimum=2,maximum=50000000" description:"Count the primes below n."`
	// TTLMS is how long a computed result stays cached; it is not part of the cache key.
	TTLMS int64 `json:"ttl_ms,omitempty" jsonschema:"minimum=0" description:"How long the result stays cached, in milliseconds (0: until evicted by the operator's quota or deleted)."`
}

// Out is the executor's result.
type Out struct {
	N      int  `json:"n"`
	Primes int  `json:"primes"`
	Cached bool `json:"cached" description:"True when the result came from the cache, false when it was computed."`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID:           "cached_executor",
		Name:         "Cached prime count",
		Description:  "Counts the primes below n, caching each result in the plugin's key-value space (kv grant).",
		Version:      "1.0.0",
		Tags:         []string{"example", "kv"},
		Capabilities: []string{"kv"},
		Run:          run,
	})
}

// cacheKey is the key of in's result: a hash of the canonical form of what decides
// the result (n), never of the raw input bytes (key order, spacing and ttl_ms do not
// change the result, so they must not change the key).
func cacheKey(in In) string {
	canonical, _ := json.Marshal(struct {
		N int `json:"n"`
	}{in.N})
	sum := sha256.Sum256(canonical)
	return "primes/" + hex.EncodeToString(sum[:])
}

func run(ctx *apflow.Context, in In) (Out, error) {
	key := cacheKey(in)
	var hit Out
	found, err := ctx.KVGet(key, &hit)
	if err != nil {
		return Out{}, err // no kv grant, or the store failed: say so rather than compute silently
	}
	if found {
		hit.Cached = true
		return hit, nil
	}
	out := Out{N: in.N, Primes: countPrimes(in.N)}
	if err := ctx.KVSet(key, out, time.Duration(in.TTLMS)*time.Millisecond); err != nil {
		// The result is right; only the cache is full (or refused): log and answer.
		ctx.Log.Warn("result not cached", "key", key, "error", err)
	}
	return out, nil
}

// countPrimes counts the primes below n with a sieve of Eratosthenes: the expensive
// part the cache avoids.
func countPrimes(n int) int {
	composite := make([]bool, n)
	count := 0
	for i := 2; i < n; i++ {
		if composite[i] {
			continue
		}
		count++
		for j := i * i; j < n; j += i {
			composite[j] = true
		}
	}
	return count
}
