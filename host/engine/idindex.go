package engine

import "hash/maphash"

// idIndex finds a graph's nodes by task id. Its map is keyed by a 64-bit hash of the id,
// not by the id: a map of strings is scanned by the garbage collector at every cycle for
// as long as the run lasts (about 10 ms a full collection for a million tasks), one of
// integers never is. The node a hash names is checked to have the id; an id whose hash
// another id of the graph holds already is kept in a map of its own, empty unless two
// ids' hashes collide.
type idIndex struct {
	hash     func(id string) uint64
	byHash   map[uint64]int32
	collided map[string]int32 // nil until a collision
}

// newIDIndex returns an index for about n ids, hashed with a seed of its own.
func newIDIndex(n int) idIndex {
	seed := maphash.MakeSeed()
	return idIndex{
		hash:   func(id string) uint64 { return maphash.String(seed, id) },
		byHash: make(map[uint64]int32, n),
	}
}

// lookup returns the index of the node of task id, and whether the graph has one.
func (g *graph) lookup(id string) (int32, bool) {
	if i, ok := g.ids.collided[id]; ok {
		return i, true
	}
	i, ok := g.ids.byHash[g.ids.hash(id)]
	if !ok || g.nodes[i].v.id != id {
		return 0, false
	}
	return i, true
}

// indexAs makes node i the one of task id (the last one given wins, as a map's).
func (g *graph) indexAs(id string, i int32) {
	h := g.ids.hash(id)
	if j, ok := g.ids.byHash[h]; ok && g.nodes[j].v.id != id {
		if g.ids.collided == nil {
			g.ids.collided = map[string]int32{}
		}
		g.ids.collided[id] = i
		return
	}
	g.ids.byHash[h] = i
}
