package engine

import (
	"math/rand/v2"
	"testing"
)

// The table against a Go map: pods added and removed at random, the table growing from its
// smallest size, every id looked up after every change (present or not), and runs of probes
// wrapping past the last slot.
func TestPodTableMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for trial := range 20 {
		tab, ref := newPodTable(), map[podID]*pod{}
		ids := make([]podID, 40+trial*40) // some are added, removed and added again
		for i := range ids {
			ids[i][0], ids[i][1], ids[i][15] = byte(i), byte(i>>8), byte(trial)
		}
		for op := range 4000 {
			id := ids[rng.IntN(len(ids))]
			if p, ok := ref[id]; ok && rng.IntN(3) == 0 {
				tab.remove(p)
				delete(ref, id)
			} else if !ok {
				p := &pod{id: id}
				tab.add(p)
				ref[id] = p
			}
			if tab.len() != len(ref) || 4*tab.len() > 3*len(tab.slots) {
				t.Fatalf("trial %d op %d: %d pods in %d slots, want %d", trial, op, tab.len(), len(tab.slots), len(ref))
			}
			for _, id := range ids {
				if got, want := tab.find(id), ref[id]; got != want {
					t.Fatalf("trial %d op %d: find(%x) = %p, want %p", trial, op, id, got, want)
				}
			}
		}
	}
}

// Removing a pod that is not there (another pod with the same id, or an id never added) changes
// nothing.
func TestPodTableRemoveAbsent(t *testing.T) {
	tab := newPodTable()
	a := &pod{id: podID{1}}
	tab.add(a)
	tab.remove(&pod{id: podID{2}})
	if tab.len() != 1 || tab.find(podID{1}) != a {
		t.Fatalf("after removing an absent id: %d pods, find = %p", tab.len(), tab.find(podID{1}))
	}
	tab.remove(&pod{id: podID{1}}) // the same id: the index knows pods by id
	if tab.len() != 0 || tab.find(podID{1}) != nil {
		t.Fatalf("after removing its id: %d pods", tab.len())
	}
}

// Uids are input: 8 192 of them that differ only in their last two bytes (or only in their
// first two) still spread over the table, so no lookup walks a long run. A hash of some of
// the id's bytes, unseeded, would put them all in one run.
func TestPodTableSpreadsChosenUIDs(t *testing.T) {
	for _, at := range []int{0, 14} {
		tab := newPodTable()
		for i := range 8192 {
			var id podID
			id[at], id[at+1] = byte(i), byte(i>>8)
			tab.add(&pod{id: id})
		}
		mask, longest := len(tab.slots)-1, 0
		for i, p := range tab.slots {
			if p != nil {
				home, _ := tab.home(p.id)
				longest = max(longest, (i-home)&mask)
			}
		}
		if longest > 100 {
			t.Errorf("ids varying at byte %d: a pod %d slots past its home", at, longest)
		}
	}
}
