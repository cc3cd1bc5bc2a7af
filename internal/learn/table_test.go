package learn

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
)

func csvOf(t *testing.T, tab *Table) string {
	t.Helper()
	var b bytes.Buffer
	if err := tab.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func readCSV(t *testing.T, s, file string) *Table {
	t.Helper()
	tab, err := ReadCSV(strings.NewReader(s), file)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestCSVColumns(t *testing.T) {
	data := gen(6, 1, 100)
	cases := []struct {
		volumes bool
		header  string
	}{
		{false, "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen," +
			"count_inbound:outbound,count_outbound:inbound"},
		{true, "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound," +
			"avg_inbound_network_io,avg_outbound_network_io,stdev_inbound_network_io,stdev_outbound_network_io,count,last_seen," +
			"count_inbound:outbound,count_outbound:inbound,count_inbound_network_io,count_outbound_network_io"},
	}
	for _, c := range cases {
		out := csvOf(t, build(Config{Volumes: c.volumes, SignalCounts: true}, data))
		lines := strings.Split(out, "\n")
		if lines[0] != c.header {
			t.Errorf("volumes=%t header\n got %s\nwant %s", c.volumes, lines[0], c.header)
		}
		// rows are sorted by key
		if !strings.HasPrefix(lines[1], "dev:cache,") || !strings.HasPrefix(lines[4], "prod:web,") {
			t.Errorf("row order: %q", lines[:5])
		}
	}
}

func TestCSVRoundTrip(t *testing.T) {
	data := gen(7, 2, 300)
	for _, volumes := range []bool{false, true} {
		first := csvOf(t, build(Config{Volumes: volumes, SignalCounts: true}, data))
		again := csvOf(t, readCSV(t, first, "base.csv"))
		if first != again {
			t.Errorf("volumes=%t: round trip differs:\n%s\nvs\n%s", volumes, first, again)
		}
	}
}

// A file from another tool, with random statistics: most stdevs are not sqrt(M2/(n-1))
// of any M2 exactly, and must still be written back as read.
func TestCSVRoundTripForeignFile(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	var b strings.Builder
	b.WriteString("key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen,count_inbound:outbound,count_outbound:inbound\n")
	for i := range 3000 {
		count := int64(2 + r.IntN(100000))
		fmt.Fprintf(&b, "c:svc-%05d", i)
		var ns [2]int64
		for j := range ns {
			ns[j] = 2 + r.Int64N(count-1)
		}
		for range ns {
			fmt.Fprintf(&b, ",%s", baseline.FormatNumber(math.Exp(r.NormFloat64()*5)))
		}
		for range ns {
			fmt.Fprintf(&b, ",%s", baseline.FormatNumber(math.Exp(r.NormFloat64()*5)))
		}
		fmt.Fprintf(&b, ",%d,%d,%d,%d\n", count, 1_700_000_000+r.IntN(1e8), ns[0], ns[1])
	}
	// 0.3888253133128552 over 466 values is a stdev no M2 gives back exactly.
	b.WriteString("c:z,1,1,0.3888253133128552,0,466,1700000000,466,1\n")
	in := b.String()
	tab := readCSV(t, in, "foreign.csv")
	if got := csvOf(t, tab); got != in {
		t.Error("foreign file does not round-trip")
	}
	a := tab.Rows["c:z"].Acc[InOut]
	if a.N != 466 || !near(a.Stdev(), 0.3888253133128552) {
		t.Errorf("c:z read as %+v", a)
	}
}

// A Splunk export has no count_ columns, may have a BOM and CRLF, and reads with n = count.
func TestReadSplunkExport(t *testing.T) {
	in := "\ufeffkey,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\r\n" +
		"prod:idle,,,,,12,1764547190\r\n" +
		"prod:web,2.5,0.5,0.25,0.125,8640,1764547200\r\n"
	tab := readCSV(t, in, "export.csv")
	if tab.SignalCounts || tab.Volumes {
		t.Errorf("flags %+v", tab)
	}
	r := tab.Rows["prod:web"]
	if r.Acc[InOut].N != 8640 || r.Acc[InOut].Mean != 2.5 || r.Stdev(InOut) != 0.25 || r.LastSeen != 1764547200 {
		t.Errorf("row %+v", r)
	}
	if tab.Rows["prod:idle"].Acc[OutIn].N != 0 {
		t.Error("empty cells read as values")
	}
	want := strings.ReplaceAll(strings.TrimPrefix(in, "\ufeff"), "\r\n", "\n")
	if got := csvOf(t, tab); got != want {
		t.Errorf("export does not round-trip:\n%s\nvs\n%s", got, want)
	}
}

func TestReadCSVErrors(t *testing.T) {
	const h = "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen,count_inbound:outbound,count_outbound:inbound\n"
	cases := []struct{ in, want string }{
		{"", "base.csv:1:1: empty file"},
		{"key,avg_inbound:outbound,stdev_inbound:outbound,count,last_seen\n", `base.csv:1:1: missing column "avg_outbound:inbound"`},
		{strings.Replace(h, "count,", "count,bogus,", 1), `base.csv:1:7: unknown column "bogus"`},
		{strings.Replace(h, "last_seen", "count", 1), `base.csv:1:7: duplicate column "count"`},
		{"key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,stdev_inbound_network_io,count,last_seen\n",
			"base.csv:1:6: stdev_inbound_network_io without avg_inbound_network_io"},
		{"key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen,count_inbound:outbound\n",
			`base.csv:1:1: missing column "count_outbound:inbound"`},
		{h + "a,1,1,0,0,5,10,5,5\nb,x,1,0,0,5,10,5,5\n", `base.csv:3:2: "x" is not a number`},
		{h + "a,1,1,0,0,5,10,5,5\na,1,1,0,0,5,10,5,5\n", `base.csv:3:1: duplicate key "a", first on line 2`},
		{h + "a,1,1,-1,0,5,10,5,5\n", "base.csv:2:4: negative standard deviation -1"},
		{h + "a,1,1,0,0,5,10,6,5\n", "base.csv:2:8: count_inbound:outbound 6 is not between 0 and count 5"},
		{h + "a,1,1,0.5,0,5,10,1,5\n", "base.csv:2:4: stdev_inbound:outbound of a single value must be 0"},
		{h + "a,1,1,,0,5,10,5,5\n", "base.csv:2:4: stdev_inbound:outbound is empty"},
		{h + "a,,1,,0,5,10,5,5\n", "base.csv:2:2: avg_inbound:outbound is empty but count_inbound:outbound is 5"},
		{h + "a,1,1,0,0,5,NaN,5,5\n", `base.csv:2:7: "NaN" is not an integer`},
		{h + "a,Inf,1,0,0,5,10,5,5\n", `base.csv:2:2: "Inf" is not a number`},
		{h + "a,1,1,0,0,5,10,5\n", "base.csv:2: row has 8 fields, header has 9"},
		{h + ",1,1,0,0,5,10,5,5\n", "base.csv:2:1: empty key"},
		{h + "a,1,1,0,0,5,10,5,5\n\"b,1\n", "base.csv:3:"},
	}
	for _, c := range cases {
		_, err := ReadCSV(strings.NewReader(c.in), "base.csv")
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("input %q:\n got %v\nwant %s...", c.in, err, c.want)
		}
	}
}

func equalTables(t *testing.T, got, want *Table) {
	t.Helper()
	if len(got.Rows) != len(want.Rows) {
		t.Fatalf("keys %v, want %v", got.Keys(), want.Keys())
	}
	for key, w := range want.Rows {
		g := got.Rows[key]
		if g == nil {
			t.Fatalf("key %s missing", key)
		}
		if g.Count != w.Count || g.LastSeen != w.LastSeen {
			t.Errorf("%s: count,last_seen %d,%d, want %d,%d", key, g.Count, g.LastSeen, w.Count, w.LastSeen)
		}
		for _, s := range want.Signals() {
			a, b := g.Acc[s], w.Acc[s]
			if a.N != b.N || !near(a.Mean, b.Mean) || !near(g.Stdev(s), w.Stdev(s)) {
				t.Errorf("%s %s: %+v (stdev %v), want %+v (stdev %v)", key, s, a, g.Stdev(s), b, w.Stdev(s))
			}
		}
	}
}

func TestMergeEqualsUnion(t *testing.T) {
	data := gen(9, 3, 300)
	splits := map[string]func(obs) bool{
		"by day": func(o obs) bool { return o.start.Before(base.Add(48 * time.Hour)) },
		// a pseudo-random half of the spans, each key-span whole on one side
		"by span": func(o obs) bool { return rand.New(rand.NewPCG(uint64(o.start.Unix()), 1)).IntN(2) == 0 },
	}
	for name, inA := range splits {
		for _, perPod := range []bool{false, true} {
			var a, b []obs
			for _, o := range data {
				if inA(o) {
					a = append(a, o)
				} else {
					b = append(b, o)
				}
			}
			if len(a) < len(data)/4 || len(b) < len(data)/4 {
				t.Fatalf("%s: unbalanced split %d/%d", name, len(a), len(b))
			}
			cfg := Config{PerPod: perPod, Volumes: true, SignalCounts: true}
			whole := build(cfg, data)
			ta, tb := build(cfg, a), build(cfg, b)
			m, err := Merge(ta, tb)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s perPod=%t", name, perPod)
			equalTables(t, m, whole)
			// and through files, as the offline tool merges them
			fa := readCSV(t, csvOf(t, ta), "a.csv")
			fb := readCSV(t, csvOf(t, tb), "b.csv")
			mf, err := Merge(fa, fb)
			if err != nil {
				t.Fatal(err)
			}
			equalTables(t, mf, whole)
		}
	}
}

func TestMergeLastSeenAndColumnSets(t *testing.T) {
	a := &Table{Rows: map[string]*Row{"k": {Count: 1, LastSeen: 50, Acc: [numSignals]Acc{{N: 1, Mean: 2}}}}, File: "a.csv"}
	b := &Table{Rows: map[string]*Row{"k": {Count: 1, LastSeen: 40, Acc: [numSignals]Acc{{N: 1, Mean: 4}}}}, File: "b.csv"}
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	r := m.Rows["k"]
	if r.LastSeen != 50 || r.Count != 2 || r.Acc[InOut].Mean != 3 || r.Stdev(InOut) != math.Sqrt2 {
		t.Errorf("merged %+v", r)
	}
	b.Volumes = true
	if _, err := Merge(a, b); err == nil || !strings.Contains(err.Error(), "column sets differ: b.csv has the volume columns, a.csv does not") {
		t.Errorf("got %v", err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	l := New(Config{})
	feed(l, gen(10, 1, 50), 1)
	path := filepath.Join(dir, "base.csv")
	if err := l.Table().WriteFile(path); err != nil {
		t.Fatal(err)
	}
	prev, _ := os.ReadFile(path)
	if string(prev) != csvOf(t, l.Table()) {
		t.Error("file content differs from WriteCSV")
	}

	// A path under a regular file cannot be created, even by root.
	bad := filepath.Join(path, "sub", "base.csv")
	err := l.Table().WriteFile(bad)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("got %v, want an error naming %s", err, bad)
	}

	// A write that fails midway leaves the previous file and no temporary file.
	err = writeAtomic(path, func(w io.Writer) error {
		w.Write([]byte("half a fi"))
		return os.ErrDeadlineExceeded
	})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, prev) {
		t.Error("previous file changed by a failed write")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestDefaultColumnsAreTheSearchs: without signal_counts the learned file has exactly the
// baseline search's lookup columns (section 7), and the volume block only when asked for.
func TestDefaultColumnsAreTheSearchs(t *testing.T) {
	l := New(Config{})
	start := time.Unix(1764547200, 0).UTC()
	l.Observe("c:web", "ns/web-1", start, 100, 50, true, true)
	l.Advance(start.Add(time.Minute))
	l.Flush()
	got := strings.SplitN(csvOf(t, l.Table()), "\n", 2)[0]
	if want := "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen"; got != want {
		t.Fatalf("header\n got %s\nwant %s", got, want)
	}
}

// TestReadCSVUsesTheComponentsRules: learn reads keys and numbers as the component does, so
// that a file one of them accepts the other accepts too.
func TestReadCSVUsesTheComponentsRules(t *testing.T) {
	const h = "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n"
	cases := []struct{ in, want string }{
		{h + "a,-1,1,0,0,5,10\n", "base.csv:2:2: negative average -1"},
		{h + "a,1,1,1e-320,0,5,10\n", "base.csv:2:4: standard deviation 1e-320 is above 0 but below 1e-300"},
		{h + "a,1e308,1,0,0,5,10\n", "base.csv:2:2: 1e308 is larger than 1e+300"},
		{h + "a,0x1p-2,1,0,0,5,10\n", `base.csv:2:2: "0x1p-2" is not a number`},
		{h + "\"prod:x\ny\",1,1,0,0,5,10\n", `base.csv:2:1: key "prod:x\ny" has a control character (U+000A)`},
		{h + "prod:w\xffeb,1,1,0,0,5,10\n", "base.csv:2:1: key \"prod:w\\xffeb\" is not valid UTF-8"},
		{h + " prod:web,1,1,0,0,5,10\n", `base.csv:2:1: key " prod:web" has leading or trailing spaces`},
		{h + "  ,1,1,0,0,5,10\n", "base.csv:2:1: empty key"},
	}
	for _, c := range cases {
		_, err := ReadCSV(strings.NewReader(c.in), "base.csv")
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("input %q:\n got %v\nwant %s...", c.in, err, c.want)
		}
		if _, berr := baseline.Parse(strings.NewReader(c.in), "base.csv"); berr == nil {
			t.Errorf("input %q: the component accepts what learn refuses", c.in)
		}
	}
	// Spaces around header names and numbers read as the component reads them.
	tab := readCSV(t, " key ,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n"+
		"prod:web, 2.5 ,0.5,0.25,0.125,8640,1764547200\n", "base.csv")
	if r := tab.Rows["prod:web"]; r == nil || r.Acc[InOut].Mean != 2.5 {
		t.Errorf("rows %v", tab.Rows)
	}
}

// TestWrittenFileReadsInTheComponent: a row the component would refuse is left out of the
// learned file, so a pod name with a line feed can no longer make the file unreadable.
func TestWrittenFileReadsInTheComponent(t *testing.T) {
	good := &Row{Count: 2, LastSeen: 10, Acc: [numSignals]Acc{{N: 2, Mean: 1, M2: 0.5}, {N: 2, Mean: 1, M2: 0.5}}}
	tab := &Table{Rows: map[string]*Row{
		"prod:web":    good,
		"prod:x\ny":   good,
		"prod:x\x00y": good,
		" prod:web":   good,
		"prod:neg":    {Count: 1, LastSeen: 10, Acc: [numSignals]Acc{{N: 1, Mean: -1}}},
		"prod:huge":   {Count: 1, LastSeen: 10, Acc: [numSignals]Acc{{N: 1, Mean: 1e305}}},
	}}
	out := csvOf(t, tab)
	b, err := baseline.Parse(strings.NewReader(out), "learned.csv")
	if err != nil {
		t.Fatalf("the component cannot read the learned file: %v\n%s", err, out)
	}
	if b.Len() != 1 {
		t.Errorf("%d keys, want only prod:web:\n%s", b.Len(), out)
	}
	if _, err := ReadCSV(strings.NewReader(out), "learned.csv"); err != nil {
		t.Errorf("learn cannot read its own file: %v", err)
	}
}
