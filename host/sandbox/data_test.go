package sandbox

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tetratelabs/wazero"
)

// dataModule is a module of one memory of pages pages, exported as "mem", with the data
// section of segs (as given: all active on memory 0 at an i32.const offset), and extra
// sections before it (id, body pairs).
func dataModule(pages uint32, segs []segment, imported bool, extra ...[]byte) []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	if imported {
		imp := appendU32(nil, 1)
		imp = append(appendU32(imp, 3), "env"...)
		imp = append(appendU32(imp, 3), "mem"...)
		imp = appendU32(append(imp, importMemory, 0), pages)
		out = appendSection(out, secImport, imp)
	} else {
		out = appendSection(out, secMemory, appendU32([]byte{1, 0}, pages))
	}
	exp := append(appendU32(appendU32(nil, 1), 3), "mem"...)
	out = appendSection(out, secExport, append(exp, 2, 0))
	for _, e := range extra {
		out = appendSection(out, e[0], e[1:])
	}
	return appendSection(out, secData, dataSection(segs))
}

// dataSegments returns the number of segments of wasm's data section, or -1.
func dataSegments(t *testing.T, wasm []byte) int {
	t.Helper()
	secs, err := splitSections(wasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secs {
		if s.id == secData {
			n, _, _ := readU32(s.body)
			return int(n)
		}
	}
	return -1
}

// memoryOf instantiates wasm and returns its memory's bytes, or the instantiation's error.
func memoryOf(t *testing.T, wz wazero.Runtime, wasm []byte) ([]byte, error) {
	t.Helper()
	ctx := context.Background()
	m, err := wz.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		return nil, err
	}
	defer m.Close(ctx)
	mem, _ := m.Memory().Read(0, m.Memory().Size())
	return bytes.Clone(mem), nil
}

// randomLayout returns n segments in random order, neither overlapping nor out of 64 KiB,
// their gaps drawn from 0 to 100 bytes.
func randomLayout(r *rand.Rand, n int) []segment {
	var segs []segment
	at := uint32(r.IntN(200))
	for range n {
		init := make([]byte, r.IntN(40))
		for i := range init {
			init[i] = byte(1 + r.IntN(255))
		}
		segs = append(segs, segment{offset: at, init: init})
		at += uint32(len(init) + r.IntN(101))
	}
	r.Shuffle(len(segs), func(i, j int) { segs[i], segs[j] = segs[j], segs[i] })
	return segs
}

func TestMergeDataKeepsTheMemory(t *testing.T) {
	ctx := context.Background()
	wz := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(coreFeatures))
	defer wz.Close(ctx)
	var before, after int
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 39))
		orig := dataModule(1, randomLayout(r, 2+r.IntN(300)), false)
		merged := mergeData(orig)
		want, err := memoryOf(t, wz, orig)
		if err != nil {
			t.Fatalf("seed %d: the module as written: %v", seed, err)
		}
		got, err := memoryOf(t, wz, merged)
		if err != nil {
			t.Fatalf("seed %d: the merged module: %v", seed, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %d: the merged module's memory differs from the module's", seed)
		}
		before += dataSegments(t, orig)
		after += dataSegments(t, merged)
	}
	if after >= before/2 {
		t.Fatalf("%d segments merged into %d, want fewer than half", before, after)
	}
}

func TestMergeData(t *testing.T) {
	near := []segment{{offset: 10, init: []byte{1, 2}}, {offset: 20, init: []byte{3}}, {offset: 12, init: []byte{4}}}
	far := []segment{{offset: 10, init: []byte{1}}, {offset: 10 + 1 + maxDataGap + 1, init: []byte{2}}}
	overlapping := []segment{{offset: 10, init: []byte{1, 2}}, {offset: 11, init: []byte{3}}, {offset: 14, init: []byte{4}}}
	dataCount := append([]byte{secDataCount}, appendU32(nil, 3)...)
	tests := []struct {
		name         string
		wasm         []byte
		wantSegments int // -1: the module left as it is
	}{
		{"near segments, in any order", dataModule(1, near, false), 1},
		{"a gap wider than maxDataGap", dataModule(1, far, false), -1},
		{"overlapping segments", dataModule(1, overlapping, false), -1},
		{"an imported memory", dataModule(1, near, true), -1},
		{"a data count section", dataModule(1, near, false, dataCount), -1},
		{"one segment", dataModule(1, near[:1], false), -1},
		{"a passive segment", passiveSegment(dataModule(1, near, false)), -1},
		{"an offset that is not i32.const", globalOffset(dataModule(1, near, false)), -1},
		{"not a module", []byte("\x00asm\x01\x00\x00\x00\x0b\x05"), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeData(tt.wasm)
			if tt.wantSegments < 0 {
				if !bytes.Equal(got, tt.wasm) {
					t.Fatalf("mergeData changed a module it must leave as it is")
				}
				return
			}
			if n := dataSegments(t, got); n != tt.wantSegments {
				t.Fatalf("%d segments, want %d", n, tt.wantSegments)
			}
		})
	}
}

// passiveSegment returns wasm, made by dataModule, with its first segment made passive.
func passiveSegment(wasm []byte) []byte {
	return replaceFirstSegmentHeader(wasm, []byte{1})
}

// globalOffset returns wasm, made by dataModule, with its first segment at the offset
// of global.get 0 (invalid as a module, but the merge must not read it as a constant).
func globalOffset(wasm []byte) []byte {
	return replaceFirstSegmentHeader(wasm, []byte{0, 0x23, 0, opEnd})
}

// replaceFirstSegmentHeader replaces the flag and offset of the first segment of a
// dataModule's data section (the last section) with header.
func replaceFirstSegmentHeader(wasm, header []byte) []byte {
	secs, _ := splitSections(wasm)
	s := secs[len(secs)-1]
	r := &reader{b: s.body}
	r.count()
	at := r.pos
	r.u32()
	r.byte()
	r.s32()
	r.byte()
	body := append(append(append([]byte(nil), s.body[:at]...), header...), s.body[r.pos:]...)
	return appendSection(append([]byte(nil), wasm[:s.at]...), secData, body)
}

func TestMergeDataOutOfBounds(t *testing.T) {
	ctx := context.Background()
	wz := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(coreFeatures))
	defer wz.Close(ctx)
	// Each layout has a segment past the one page: instantiation fails before and after
	// the merge.
	tests := []struct {
		name string
		segs []segment
	}{
		{"the last segment runs past the page", []segment{{offset: 65_530, init: []byte{1}}, {offset: 65_532, init: []byte{1, 2, 3, 4, 5}}}},
		{"an empty segment past the page, last", []segment{{offset: 65_530, init: []byte{1}}, {offset: 65_540}}},
		{"an empty segment past the page, between two", []segment{{offset: 65_500, init: []byte{1}}, {offset: 65_537}, {offset: 65_520, init: []byte{2}}}},
		{"a negative offset (0xFFFFFFF8)", []segment{{offset: 0xFFFF_FFF8, init: []byte{1}}, {offset: 0xFFFF_FFFA, init: []byte{2, 3}}}},
		{"a segment past 4 GiB", []segment{{offset: 0xFFFF_FFF0, init: bytes.Repeat([]byte{1}, 32)}, {offset: 10, init: []byte{2}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := dataModule(1, tt.segs, false)
			merged := mergeData(orig)
			for _, wasm := range [][]byte{orig, merged} {
				if _, err := memoryOf(t, wz, wasm); err == nil {
					t.Fatalf("a segment out of bounds was instantiated (merged into %d segments)", dataSegments(t, merged))
				}
			}
		})
	}
}

func TestMergeDataAllocatesWhatItWrites(t *testing.T) {
	// 200,000 empty segments at offset 0 merge into one: the merge's result is a small
	// module, and what it allocates stays near the module's own size.
	orig := dataModule(1, make([]segment, 200_000), false)
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	before := stats.TotalAlloc
	merged := mergeData(orig)
	runtime.ReadMemStats(&stats)
	if dataSegments(t, merged) != 1 || cap(merged) > len(merged)+8 {
		t.Fatalf("%d segments in %d bytes (capacity %d)", dataSegments(t, merged), len(merged), cap(merged))
	}
	if got := stats.TotalAlloc - before; got > 8*uint64(len(orig)) {
		t.Fatalf("merging a %d-byte module allocated %d bytes", len(orig), got)
	}
}

func TestMergeDataBoundsItsZeros(t *testing.T) {
	// One-byte segments maxDataGap apart: filling every gap would make the data section
	// about ten times larger; the merge fills no more zeros than the section's bytes.
	var segs []segment
	for i := range uint32(1000) {
		segs = append(segs, segment{offset: i * (1 + maxDataGap), init: []byte{1}})
	}
	orig := dataModule(2, segs, false)
	merged := mergeData(orig)
	if len(merged) > 2*len(orig) {
		t.Fatalf("the merged module is %d bytes, the module %d", len(merged), len(orig))
	}
	if dataSegments(t, merged) >= len(segs) {
		t.Fatalf("nothing was merged")
	}
}

func TestMergeDataOfTheGoEcho(t *testing.T) {
	wasm, err := os.ReadFile(filepath.Join("..", "..", "build", "plugins", "echo_go.wasm"))
	if err != nil {
		t.Skipf("no Go echo (make kits): %v", err)
	}
	out, err := rewrite(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if before, after := dataSegments(t, wasm), dataSegments(t, out); before < 10_000 || after > 100 {
		t.Fatalf("the Go echo's %d data segments rewritten as %d, want a few", before, after)
	}
}
