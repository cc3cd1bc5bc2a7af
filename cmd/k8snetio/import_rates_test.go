package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

const ratesFixture = "testdata/import-rates/rates.csv"

// importedPoint is one pod's counters at one sample, as the recording holds them.
type importedPoint struct {
	pod, uid       string
	ts, start      int64 // Unix seconds
	receive, trans int64
}

func parseImported(t *testing.T, out string) (points []importedPoint, lines int) {
	t.Helper()
	var u pmetric.JSONUnmarshaler
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		lines++
		md, err := u.UnmarshalMetrics([]byte(line))
		if err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			a := rm.Resource().Attributes()
			if attrString(a, "k8s.namespace.name") != "tt" || attrString(a, "k8s.cluster.name") != "c9" || attrString(a, "k8s.node.name") != "n9" {
				t.Errorf("resource attributes %v: want the namespace, cluster and node flags", a.AsRaw())
			}
			m := rm.ScopeMetrics().At(0).Metrics().At(0)
			if m.Name() != "k8s.pod.network.io" || m.Type() != pmetric.MetricTypeSum || !m.Sum().IsMonotonic() ||
				m.Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
				t.Fatalf("metric %s %s: want the monotonic cumulative sum k8s.pod.network.io", m.Name(), m.Type())
			}
			p := importedPoint{pod: attrString(a, "k8s.pod.name"), uid: attrString(a, "k8s.pod.uid")}
			dps := m.Sum().DataPoints()
			for j := 0; j < dps.Len(); j++ {
				dp := dps.At(j)
				p.ts, p.start = dp.Timestamp().AsTime().Unix(), dp.StartTimestamp().AsTime().Unix()
				if attrString(dp.Attributes(), "interface") != "eth0" {
					t.Errorf("interface %q, want eth0", attrString(dp.Attributes(), "interface"))
				}
				switch attrString(dp.Attributes(), "direction") {
				case "receive":
					p.receive = dp.IntValue()
				case "transmit":
					p.trans = dp.IntValue()
				default:
					t.Errorf("direction %v", dp.Attributes().AsRaw())
				}
			}
			points = append(points, p)
		}
	}
	return points, lines
}

// The fixture's counters, worked by hand: rate x seconds since the pod's previous sample, summed.
//
//	a: 669 -> 0/0; 729 -> 200*60 = 12000 / 20.5*60 = 1230; 789 -> +50*60 = 15000 / +5*60 = 1530
//	b: 700 -> 0/0; 760 -> 2.5*60 = 150 / 0
func TestImportRates(t *testing.T) {
	const a, b = "ts-a-service-5f55b6cf68-77cfw", "ts-b-service-84cbf6c798-7njv6"
	r := runArgs(t, "", "import-rates", "--namespace", "tt", "--cluster", "c9", "--node", "n9", ratesFixture)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	points, lines := parseImported(t, r.stdout)
	if lines != 5 {
		t.Errorf("%d lines, want one per sample time (5)", lines)
	}
	want := []importedPoint{
		{pod: a, ts: 1674981669, start: 1674981669, receive: 0, trans: 0},
		{pod: b, ts: 1674981700, start: 1674981700, receive: 0, trans: 0},
		{pod: a, ts: 1674981729, start: 1674981669, receive: 12000, trans: 1230},
		{pod: b, ts: 1674981760, start: 1674981700, receive: 150, trans: 0},
		{pod: a, ts: 1674981789, start: 1674981669, receive: 15000, trans: 1530},
	}
	if len(points) != len(want) {
		t.Fatalf("%d points, want %d", len(points), len(want))
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for i, p := range points {
		if !uuid.MatchString(p.uid) || p.uid != podUID("tt", p.pod) {
			t.Errorf("uid %q of %s: want the version 5 UUID of tt/%s", p.uid, p.pod, p.pod)
		}
		p.uid = ""
		if p != want[i] {
			t.Errorf("point %d = %+v, want %+v", i, p, want[i])
		}
	}
	if podUID("tt", a) == podUID("tt", b) || podUID("tt", a) == podUID("other", a) {
		t.Errorf("UIDs must differ between pods and namespaces")
	}

	// The same rows gzipped give the same recording; --since/--until keep [since, until).
	raw, err := os.ReadFile(ratesFixture)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	zipped := writeFile(t, t.TempDir(), "rates.csv.gz", gz.String())
	if z := runArgs(t, "", "import-rates", "--namespace", "tt", "--cluster", "c9", "--node", "n9", zipped); z.stdout != r.stdout {
		t.Errorf("the gzipped fixture gives another recording:\n%s", z.stdout)
	}
	// 08:42:40Z is 1674981760: until is exclusive, so b's second sample is left out, and a's
	// counter starts afresh at its first sample kept.
	s := runArgs(t, "", "import-rates", "--namespace", "tt", "--cluster", "c9", "--node", "n9", "--since", "1674981700", "--until", "2023-01-29T08:42:40Z", ratesFixture)
	points, _ = parseImported(t, s.stdout)
	if len(points) != 2 || points[0].pod != b || points[1].pod != a || points[1].ts != 1674981729 || points[1].receive != 0 || points[1].start != 1674981729 {
		t.Errorf("--since 1674981700 --until 1674981760: got %+v, want b at 700 and a at 729 with a fresh counter", points)
	}
}

func TestImportRatesErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ csv, want string }{
		{"timestamp,pod,receive_bytes_per_second\n", `:1: no "transmit_bytes_per_second" column`},
		{"timestamp,pod,receive_bytes_per_second,transmit_bytes_per_second\n1,p,1,x\n", `:2: transmit_bytes_per_second "x" is not a non-negative number`},
		{"timestamp,pod,receive_bytes_per_second,transmit_bytes_per_second\n1,p,-1,1\n", `:2: receive_bytes_per_second "-1"`},
		{"timestamp,pod,receive_bytes_per_second,transmit_bytes_per_second\n1,p,1,1\n1,p,2,2\n", ":3: a second sample of pod p"},
	} {
		path := writeFile(t, dir, "bad.csv", tc.csv)
		r := runArgs(t, "", "import-rates", path)
		if r.code != exitFailure || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 1 and %q", tc.csv, r.code, r.stderr, tc.want)
		}
	}
	if r := runArgs(t, "", "import-rates", "--since", "soon", ratesFixture); r.code != exitUsage {
		t.Errorf("--since soon: exit %d, want 2", r.code)
	}
}

// sharedDay is the Train Ticket day of ../shared/data, next to the repository; tests skip without it.
func sharedDay(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data", "trainticket-2023-01-29-pod-network.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("the shared Train Ticket day is not next to the repository (%v)", err)
	}
	return path
}

// The shared day imports as its README describes it: 46 pods, and replay reads the result.
func TestImportRatesSharedDay(t *testing.T) {
	day := sharedDay(t)
	out := filepath.Join(t.TempDir(), "day.jsonl")
	r := runArgs(t, "", "import-rates", "--until", "1674985269", "--out", out, day) // the first hour
	if r.code != exitOK || !strings.Contains(r.stderr, ", 46 pods, ") {
		t.Fatalf("exit %d, stderr %q; want 46 pods", r.code, r.stderr)
	}
	dir := t.TempDir()
	writeFile(t, dir, "b.csv", "key,avg_inbound:outbound,stdev_inbound:outbound\nnezha:ts-order-service,1,1\n")
	cfg := writeFile(t, dir, "c.yaml", "baseline: {path: b.csv}\n")
	rep := runArgs(t, "", "replay", "--config", cfg, out)
	if rep.code != exitOK || !strings.Contains(rep.stderr, "0 dropped") {
		t.Errorf("replay of the import: exit %d, stderr %q; want every point used", rep.code, rep.stderr)
	}
}
