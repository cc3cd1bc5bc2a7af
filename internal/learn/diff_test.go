package learn

import (
	"math"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	const h = "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n"
	old := readCSV(t, h+
		"c:gone,1,1,0.1,0.1,10,100\n"+
		"c:steady,2,0.5,0.5,0.1,10,100\n"+
		"c:web,2,0.5,0.5,0.1,10,100\n"+
		"c:flat,3,0.3,0,0,10,100\n", "old.csv")
	new := readCSV(t, h+
		"c:flat,3.5,0.3,0,0,10,200\n"+ // stdev 0: any move counts
		"c:new,1,1,0.1,0.1,10,200\n"+
		"c:steady,3.4,0.7,0.5,0.1,20,200\n"+ // 2.8 and 2 sigmas: within 3
		"c:web,3.6,0.25,0.5,0.1,20,200\n", "new.csv") // +3.2 and -2.5 sigmas: only the first moves
	d := Diff(old, new, 3)
	if strings.Join(d.Added, ",") != "c:new" || strings.Join(d.Removed, ",") != "c:gone" {
		t.Errorf("added %v removed %v", d.Added, d.Removed)
	}
	if len(d.Moved) != 2 {
		t.Fatalf("moved %+v", d.Moved)
	}
	if m := d.Moved[0]; m.Key != "c:flat" || m.Signal != InOut || !math.IsInf(m.Z, 1) {
		t.Errorf("moved[0] %+v", m)
	}
	if m := d.Moved[1]; m.Key != "c:web" || m.Signal != InOut || !near(m.Z, 3.2) {
		t.Errorf("moved[1] %+v", m)
	}
	var b strings.Builder
	if err := d.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `1 added, 1 removed, 2 moved by more than 3 standard deviations

added:
  + c:new

removed:
  - c:gone

moved:
  ~ c:flat  inbound:outbound    avg 3 -> 3.5 (old stdev 0, +inf sigma)
  ~ c:web   inbound:outbound    avg 2 -> 3.6 (old stdev 0.5, +3.20 sigma)
`
	if b.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", b.String(), want)
	}
	if !Diff(old, old, 3).Empty() {
		t.Error("a table differs from itself")
	}
}
