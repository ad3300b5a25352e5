package executor

import (
	"sort"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// Chain returns a Catalog that looks an id up in each catalog in order and answers with the
// first that knows it (so built-ins listed first shadow plugins of the same id). List merges
// the catalogs' lists, sorted by id; an id present in several catalogs is listed once, as
// the earliest catalog describes it. Nil catalogs are skipped. A catalog that implements
// Registers is asked that first, so that an id it does not register costs no error.
func Chain(catalogs ...Catalog) Catalog {
	cs := make([]Catalog, 0, len(catalogs))
	for _, c := range catalogs {
		if c != nil {
			cs = append(cs, c)
		}
	}
	return chain(cs)
}

// Registers is implemented by a Catalog that can tell at no cost whether it registers an
// id: Chain asks it before Lookup, whose not-found error is built for its reader (every
// task of a plugin executor looked the built-ins up first, and allocated that error).
type Registers interface {
	// Registers reports whether Lookup(id) would find an executor now.
	Registers(id string) bool
}

type chain []Catalog

// Lookup implements Catalog.
func (c chain) Lookup(id string) (Handle, error) {
	for _, cat := range c {
		if r, ok := cat.(Registers); ok && !r.Registers(id) {
			continue
		}
		h, err := cat.Lookup(id)
		if err == nil {
			return h, nil
		}
		if apferr.CodeOf(err) != apferr.ExecutorNotFound {
			return nil, err
		}
	}
	return nil, NotFound(id)
}

// List implements Catalog.
func (c chain) List() []*Info {
	seen := map[string]bool{}
	var out []*Info
	for _, cat := range c {
		for _, info := range cat.List() {
			if seen[info.ID] {
				continue
			}
			seen[info.ID] = true
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
