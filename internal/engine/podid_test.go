package engine

import (
	"context"
	"iter"
	"maps"
	"regexp"
	"slices"
	"testing"
)

// canonicalUID is what parseUID must take, and only that.
var canonicalUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestParseUID(t *testing.T) {
	for _, c := range []struct {
		uid string
		ok  bool
	}{
		{"6f1c2b3a-9d4e-4f5a-8b6c-7d8e9f0a1b2c", true},
		{"00000000-0000-0000-8000-000000000000", true},
		{"ffffffff-ffff-ffff-bfff-ffffffffffff", true},
		{"6F1C2B3A-9D4E-4F5A-8B6C-7D8E9F0A1B2C", false}, // upper case: kept as it came
		{"6f1c2b3a-9d4e-4f5a-cb6c-7d8e9f0a1b2c", false}, // another variant
		{"6f1c2b3a-9d4e-4f5a-7b6c-7d8e9f0a1b2c", false},
		{"6f1c2b3a9d4e-4f5a-8b6c-7d8e9f0a1b2c-", false}, // a dash out of place
		{"6f1c2b3a-9d4e-4f5a-8b6c-7d8e9f0a1b2", false},
		{"6f1c2b3a-9d4e-4f5a-8b6c-7d8e9f0a1b2cc", false},
		{"6f1c2b3a-9d4e-4f5a-8b6c-7d8e9f0a1b2g", false},
		{"6f1c2b3a-9d4e-4f5a-8b6c-7d8e9f0a1b-c", false},
		{"uid-web-1", false},
		{"", false},
	} {
		id, ok := parseUID(c.uid)
		if ok != c.ok {
			t.Errorf("parseUID(%q) ok = %t, want %t", c.uid, ok, c.ok)
		}
		if ok && id.String() != c.uid {
			t.Errorf("parseUID(%q) reads back as %q", c.uid, id.String())
		}
	}
}

// A uid is taken as bytes exactly when it is canonical, and then reads back as it came.
func FuzzParseUID(f *testing.F) {
	for _, s := range []string{"6f1c2b3a-9d4e-4f5a-8b6c-7d8e9f0a1b2c", "6F1C2B3A-9D4E-4F5A-8B6C-7D8E9F0A1B2C", "uid-web-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uid string) {
		id, ok := parseUID(uid)
		if ok != canonicalUID.MatchString(uid) {
			t.Fatalf("parseUID(%q) ok = %t", uid, ok)
		}
		if ok && id.String() != uid {
			t.Fatalf("parseUID(%q) reads back as %q", uid, id.String())
		}
	})
}

// Pods are told apart by uid as they came, whichever way they are keyed: a canonical uid and its
// upper-case twin are two pods, a pod without a uid is known by its names, and the saved state
// gives every uid back exactly.
func TestPodsByUIDBytesAndByName(t *testing.T) {
	h := newHarness(t, ratioCSV)
	store := &memoryStore{}
	h.e.set.State = store
	h.e.Start()
	upper := podRes{uid: "6F1C2B3A-9D4E-4F5A-8B6C-7D8E9F0A1B2C", name: "web-7c5ddbdf54-u9z7m", namespace: "default", cluster: "prod", node: "node-2"}
	noUID := podRes{name: "web-7c5ddbdf54-n9z7m", namespace: "default", cluster: "prod", node: "node-2"}
	pods := []podRes{webPod, webPod2, upper, noUID}
	for _, p := range pods {
		h.consume(newMD().add(p, cumulativeSum, ip("eth0", "receive", 5, 100), ip("eth0", "transmit", 5, 100)).md)
	}
	if n, byUID := h.e.pods.len(), h.e.pods.byUID.len(); n != 4 || byUID != 1 {
		t.Fatalf("%d pods, %d of them by uid bytes; want 4 and 1 (%s)", n, byUID, webPod2.uid)
	}
	for _, p := range pods {
		got := h.e.pods.find(p.uid, p.cluster, p.namespace, p.name)
		if got == nil || got.name() != p.name || got.uid() != p.uid {
			t.Errorf("pod %q: found %v", p.uid, got)
		}
	}
	h.e.Shutdown(context.Background())

	h2 := newHarness(t, ratioCSV)
	h2.e.set.State = &memoryStore{entries: store.saved}
	h2.e.Start()
	defer h2.e.Shutdown(context.Background())
	var uids []string
	for p := range h2.e.pods.all() {
		uids = append(uids, p.uid())
	}
	slices.Sort(uids)
	want := []string{"", upper.uid, webPod2.uid, webPod.uid}
	slices.Sort(want)
	if !slices.Equal(uids, want) {
		t.Errorf("restored uids %q, want %q", uids, want)
	}
}

// all is every indexed pod, in no order (for tests: the engine never walks every pod).
func (x *podIndex) all() iter.Seq[*pod] {
	return func(yield func(*pod) bool) {
		for _, p := range x.byUID.slots {
			if p != nil && !yield(p) {
				return
			}
		}
		for p := range maps.Values(x.byName) {
			if !yield(p) {
				return
			}
		}
	}
}
