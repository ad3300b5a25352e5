package sandbox

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"github.com/apflow-wasm/apflow/host/retry"
)

// TestFailureKindsClassified: every Kind of a call's error has a deliberate retry
// classification (docs/retries.md), so a new Kind cannot slip into "error" unnoticed.
func TestFailureKindsClassified(t *testing.T) {
	t.Parallel()
	want := map[Kind]retry.Kind{
		KindTimeout: retry.KindTimeout, KindTrap: retry.KindTrap, KindStackOverflow: retry.KindTrap,
		KindOutOfMemory: retry.KindTrap, KindExit: retry.KindTrap, KindPanic: retry.KindTrap,
		KindInvalid: retry.KindPermanent, KindCancelled: retry.KindPermanent, KindResult: retry.KindPermanent,
		KindInput: retry.KindPermanent, KindClosed: retry.KindError,
	}
	for k, w := range want {
		if got := retry.Classify(&Error{Kind: k}); got != w {
			t.Errorf("Classify(%s) = %s, want %s", k, got, w)
		}
	}
	if n := declaredKinds(t); n != len(want) {
		t.Fatalf("errors.go declares %d kinds, %d are classified here: classify the new kind here and in retry.Classify", n, len(want))
	}
}

// declaredKinds counts the constants of type Kind declared in errors.go.
func declaredKinds(t *testing.T) int {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			if v, ok := spec.(*ast.ValueSpec); ok {
				if id, ok := v.Type.(*ast.Ident); ok && id.Name == "Kind" {
					n += len(v.Names)
				}
			}
		}
	}
	return n
}
