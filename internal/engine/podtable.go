package engine

import "hash/maphash"

// podTable is the set of pods keyed by their podID, an open-addressed hash table of pod pointers:
// the key is the pod's own id, so a slot is 8 bytes and a tag byte, where a Go map of podID to
// *pod holds 24 and a control byte (about 40 bytes per pod at the map's usual load, against
// about 15). Probing is linear; a tag byte (seven bits of the hash) spares most probes a look at
// a pod that is not the one sought. The hash is seeded per table: uids come from any sender,
// who cannot choose ones that collide. Like a Go map it never shrinks; limits.max_pods bounds it.
type podTable struct {
	seed  maphash.Seed
	tags  []uint8 // 0 for an empty slot, else 0x80 | the hash's top seven bits
	slots []*pod
	n     int
}

// podTableMinSlots is a new table's size; it doubles when three quarters are used.
const podTableMinSlots = 64

func newPodTable() podTable {
	return podTable{seed: maphash.MakeSeed(), tags: make([]uint8, podTableMinSlots), slots: make([]*pod, podTableMinSlots)}
}

func (t *podTable) len() int { return t.n }

// home is the slot where id's probe starts, and its tag.
func (t *podTable) home(id podID) (int, uint8) {
	h := maphash.Comparable(t.seed, id)
	return int(h & uint64(len(t.slots)-1)), 0x80 | uint8(h>>57)
}

// find returns the pod with id, or nil.
func (t *podTable) find(id podID) *pod {
	mask := len(t.slots) - 1
	i, tag := t.home(id)
	for {
		switch t.tags[i] {
		case 0:
			return nil
		case tag:
			if p := t.slots[i]; p.id == id {
				return p
			}
		}
		i = (i + 1) & mask
	}
}

// add puts p in the table; no pod with its id may be there.
func (t *podTable) add(p *pod) {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.resize(2 * len(t.slots))
	}
	t.put(p)
	t.n++
}

// put puts p into the first empty slot of its probe.
func (t *podTable) put(p *pod) {
	mask := len(t.slots) - 1
	i, tag := t.home(p.id)
	for t.tags[i] != 0 {
		i = (i + 1) & mask
	}
	t.tags[i], t.slots[i] = tag, p
}

func (t *podTable) resize(slots int) {
	old := t.slots
	t.tags, t.slots = make([]uint8, slots), make([]*pod, slots)
	for _, p := range old {
		if p != nil {
			t.put(p)
		}
	}
}

// remove takes the pod with p's id out of the table, if it is there. The pods after it in its
// run move back to fill the hole (no tombstones: a table with many pods gone stays as fast).
func (t *podTable) remove(p *pod) {
	mask := len(t.slots) - 1
	i, tag := t.home(p.id)
	for ; t.tags[i] != tag || t.slots[i].id != p.id; i = (i + 1) & mask {
		if t.tags[i] == 0 {
			return
		}
	}
	t.n--
	hole := i
	for j := (i + 1) & mask; t.tags[j] != 0; j = (j + 1) & mask {
		// The pod at j may move to the hole unless its home lies cyclically in (hole, j]: its
		// probe would no longer pass the hole's slot on its way to it.
		home, _ := t.home(t.slots[j].id)
		if (j-home)&mask >= (j-hole)&mask {
			t.tags[hole], t.slots[hole] = t.tags[j], t.slots[j]
			hole = j
		}
	}
	t.tags[hole], t.slots[hole] = 0, nil
}
