package wasmabi

import "testing"

func TestArena(t *testing.T) {
	t.Parallel()
	a := NewArena()
	if p, b := a.Alloc(0); p != 0 || b != nil || a.Live() != 0 {
		t.Fatalf("Alloc(0) = %d, %v", p, b)
	}
	p, b := a.Alloc(8)
	if p == 0 || len(b) != 8 || a.Live() != 1 {
		t.Fatalf("Alloc(8) = %d, len %d, live %d", p, len(b), a.Live())
	}
	copy(b, "abcdefgh")
	if got, ok := a.Bytes(p, 5); !ok || string(got) != "abcde" {
		t.Errorf("Bytes(p, 5) = %q, %v", got, ok)
	}
	if _, ok := a.Bytes(p, 9); ok {
		t.Error("Bytes beyond the buffer succeeded")
	}
	if _, ok := a.Bytes(p+1, 1); ok {
		t.Error("Bytes at an interior address succeeded")
	}
	if _, ok := a.Bytes(p, -1); ok {
		t.Error("Bytes with a negative length succeeded")
	}
	a.Free(p)
	a.Free(p) // double free is harmless
	a.Free(0)
	if a.Live() != 0 {
		t.Errorf("live after free = %d", a.Live())
	}

	rp, n := a.Result([]byte("result"))
	if rp == 0 || n != 6 || a.Live() != 1 {
		t.Fatalf("Result = %d, %d", rp, n)
	}
	if got, ok := a.Bytes(rp, n); !ok || string(got) != "result" {
		t.Errorf("result bytes = %q", got)
	}
	a.Release()
	if a.Live() != 0 {
		t.Errorf("live after Release = %d", a.Live())
	}
	a.Release() // nothing to release
	if rp, n := a.Result(nil); rp != 0 || n != 0 {
		t.Errorf("empty Result = %d, %d", rp, n)
	}
	rp, _ = a.Result([]byte("x"))
	a.Free(rp) // the host freeing a result itself
	a.Release()
	if a.Live() != 0 {
		t.Errorf("live = %d", a.Live())
	}
}

func TestPack(t *testing.T) {
	t.Parallel()
	tests := []struct{ ptr, n uint32 }{{0, 0}, {1, 2}, {0xffffffff, 0xffffffff}, {0x10000, 7}}
	for _, tt := range tests {
		v := Pack(tt.ptr, tt.n)
		if p, n := Unpack(v); p != tt.ptr || n != tt.n {
			t.Errorf("Unpack(Pack(%d, %d)) = %d, %d", tt.ptr, tt.n, p, n)
		}
	}
	if Pack(1, 2) != 1<<32|2 {
		t.Error("Pack layout is not (ptr << 32) | len")
	}
}
