package badgerstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestJournalPacksRecords: a record's writes are stored compressed when they take
// packMin bytes or more and compress by an eighth or more, and as they are otherwise;
// replay gives back every record's writes either way, in order, and a torn packed record
// is an end, as a torn record is.
func TestJournalPacksRecords(t *testing.T) {
	t.Parallel()
	// A task's stored value and index keys repeat their tree's id, as the journal's
	// records of a run do.
	tree := "0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	taskLike := func(i int) []write {
		return []write{
			set(fmt.Sprintf("t%s-%d", tree, i), fmt.Sprintf(`{"id":"%s-%d","parent_id":"%s","task_tree_id":"%s","status":"completed","inputs":{"i":%d}}`, tree, i, tree, tree, i)),
			set(fmt.Sprintf("g%s%08d", tree, i), "completed"),
			del(fmt.Sprintf("s%s%08d", tree, i)),
		}
	}
	many := func(n int) []write {
		var ws []write
		for i := range n {
			ws = append(ws, taskLike(i)...)
		}
		return ws
	}
	tests := []struct {
		name   string
		writes []write
		packed bool
	}{
		{"small", []write{set("a", "1")}, false},
		{"just under packMin", []write{set("k", strings.Repeat("v", packMin-6))}, false}, // 1+1+1+2 bytes besides the value
		{"at packMin, compressible", []write{set("k", strings.Repeat("v", packMin-5))}, true},
		{"a round of tasks", many(32), true},
		{"a create's chunk", many(700), true},
		{"incompressible", []write{set("n", noise(20_000))}, false},
		{"saving less than an eighth", []write{set("n", strings.Repeat("v", 200)+noise(1_800))}, false}, // 1,817 bytes of 2,005
	}
	j := newTestJournal(t)
	var want [][]string
	for _, tc := range tests {
		start := j.off
		if err := j.commitWith(func() error { return nil }, func() {}, tc.writes); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		rec := readFile(t, j.f.Name())[start:j.off]
		raw := len(appendWrites(nil, tc.writes))
		packed := rec[recordHeaderSize] == writePacked
		if packed != tc.packed || (packed && len(rec)-recordHeaderSize > raw-raw/8) || (!packed && len(rec)-recordHeaderSize != raw) {
			t.Errorf("%s: %d bytes of writes stored in %d, packed %v; want packed: %v", tc.name, raw, len(rec)-recordHeaderSize, packed, tc.packed)
		}
		want = append(want, writeStrings(tc.writes))
	}
	data := readFile(t, j.f.Name())[:j.off]
	if got := replayedBytes(t, data); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("replayed %d records, want the %d committed, as committed", len(got), len(want))
	}
	// The last packed record ("a create's chunk"), torn anywhere.
	end := len(data)
	for k := len(tests) - 1; k > 4; k-- {
		end -= len(testRecord(nil, j.epoch, [][]write{tests[k].writes}))
	}
	start := end - len(testRecord(nil, j.epoch, [][]write{tests[4].writes}))
	if tests[4].name != "a create's chunk" || data[start+recordHeaderSize] != writePacked {
		t.Fatalf("record 5 at %d is not the packed create's chunk", start)
	}
	for cut := start; cut < end; cut += 97 {
		if got := replayedBytes(t, data[:cut]); len(got) != 4 {
			t.Fatalf("cut at %d, in a packed record: replayed %d records, want 4", cut, len(got))
		}
	}
}

// TestJournalCheckpointsByUncompressedSize: a journal checkpoints once its records,
// uncompressed, reach checkpointAt, however little of the file they take, so that
// compression leaves no more to replay after a crash.
func TestJournalCheckpointsByUncompressedSize(t *testing.T) {
	t.Parallel()
	j := newTestJournal(t)
	j.syncFiles = func(string) error { return nil }
	j.checkpointAt = journalDataOffset + 100_000
	commits := 0
	for j.checkpoints.Load() == 0 {
		if err := j.commitWith(func() error { return nil }, func() {}, []write{set("k", strings.Repeat("v", 10_000))}); err != nil {
			t.Fatal(err)
		}
		commits++
		if commits > 20 {
			t.Fatalf("no checkpoint after %d records of 10 KB each, journal at %d", commits, j.off)
		}
	}
	if commits != 10 {
		t.Errorf("checkpointed after %d records of 10 KB, want 10 (100 KB)", commits)
	}
	if j.off != journalDataOffset || j.logical != journalDataOffset {
		t.Errorf("after the checkpoint the journal is at %d (%d uncompressed), want %d", j.off, j.logical, journalDataOffset)
	}
}

// FuzzUnpackRecord: no payload that passes a record's checksum makes unpacking or
// decoding it panic, and any writes packed come back as they were.
func FuzzUnpackRecord(f *testing.F) {
	f.Add([]byte{writePacked, 5, 0, 1, 2}, "k", strings.Repeat("v", 600))
	f.Add([]byte{writePacked, 0xff, 0xff, 0xff, 0xff, 0x7f}, "a", "")
	f.Add(binary.AppendUvarint([]byte{writePacked}, 1<<40), "k", "v")
	f.Fuzz(func(t *testing.T, payload []byte, key, value string) {
		var scratch []byte
		// A packed record says how long its writes are, and unpacking allocates that
		// much: up to 4 GiB, as a record's own length may say. Both are covered by the
		// record's checksum, which these payloads skip; the fuzzer's long claims would
		// only allocate.
		if n, k := binary.Uvarint(payload[min(1, len(payload)):]); k <= 0 || n <= 1<<20 {
			if w, err := unpackRecord(payload, &scratch); err == nil {
				_, _ = decodeRecord(w)
			}
		}
		ws := []write{set(key, value), del(key), set(key+value, strings.Repeat(value, 3))}
		rec, _ := appendRecord(nil, 9, [][]write{ws}, &scratch)
		w, err := unpackRecord(rec[recordHeaderSize:], &scratch)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRecord(w)
		if err != nil || !slices.Equal(writeStrings(got), writeStrings(ws)) {
			t.Fatalf("packed and unpacked %q: %q, %v", writeStrings(ws), writeStrings(got), err)
		}
		if !bytes.Equal(appendWrites(nil, ws), w) {
			t.Fatal("the writes unpacked differ from the writes packed")
		}
	})
}
