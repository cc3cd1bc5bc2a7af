package learn

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// bucketFactor is the width of one histogram bucket as a factor, 2^(1/16) = 1.0443: a
// quantile read from the histogram lies in the bucket holding the exact value (it is
// interpolated inside it), so it is within that factor of it, i.e. within 4.43 %. In log
// space the bucket is ln 2 / 16 = 0.0433 wide, which bounds the median and the MAD of
// ln(out/in) (profile.Hist.LogMedianMAD: bucket centres, within one bucket width).
var (
	bucketFactor = math.Pow(2, 1.0/profile.SubBuckets)
	bucketLog    = math.Ln2 / profile.SubBuckets
)

// profileFields returns, per key, the profile's cells of a written file by column name.
func profileFields(t *testing.T, csv string) map[string]map[string]string {
	t.Helper()
	tab := strings.Split(strings.TrimSuffix(csv, "\n"), "\n")
	header := strings.Split(tab[0], ",")
	out := map[string]map[string]string{}
	for _, line := range tab[1:] {
		cells := strings.Split(line, ",")
		if len(cells) != len(header) {
			t.Fatalf("row %q has %d cells, header %d", line, len(cells), len(header))
		}
		row := map[string]string{}
		for i, name := range header {
			row[name] = cells[i]
		}
		out[cells[0]] = row
	}
	return out
}

// TestProfileColumnsByHand: five pod-spans of two pods over three spans, pooled per key
// in both modes. Inbound 100..500 B/s has median 300 and 95th percentile 500 (nearest
// rank: the 5th of 5); outbound 10, 20, 30, 40, 1000 has median 30 and 95th percentile
// 1000; out/in is 0.1 four times and 2 once, so the median of ln(out/in) is ln 0.1 and
// its MAD 0 (four of five deviations are 0). A key whose only pod-span had no inbound
// has no ratio: its figures are blank, its histograms say what was seen.
func TestProfileColumnsByHand(t *testing.T) {
	type rates struct {
		pod     string
		spanNo  int
		in, out float64
	}
	spans := []rates{
		{"web-a", 0, 100, 10}, {"web-b", 0, 200, 20},
		{"web-a", 1, 300, 30}, {"web-b", 1, 400, 40},
		{"web-a", 2, 500, 1000},
	}
	cases := []struct {
		perPod    bool
		wantCount string
	}{{false, "3"}, {true, "5"}} // key-spans in parity, pod-spans per pod; count_pod_spans 5 in both
	for _, c := range cases {
		l := New(Config{Profile: true, PerPod: c.perPod, SignalCounts: true})
		for _, s := range spans {
			start := base.Add(time.Duration(s.spanNo) * span)
			// bytes over a 20 s covered time (a 20 s scrape): the rates are what is learned
			l.Observe("c:web", s.pod, start, s.in*20, s.out*20, true, true)
			l.ObserveRates("c:web", s.pod, start, s.in, s.out, 20*time.Second)
		}
		l.Observe("c:idle", "idle-a", base, 0, 50, true, true)
		l.ObserveRates("c:idle", "idle-a", base, 0, 5, 10*time.Second)
		l.Observe("c:web", "web-c", base, 7, 0, true, false) // one direction: no rates, not learned
		l.Flush()
		out := csvOf(t, l.Table())
		header := strings.SplitN(out, "\n", 2)[0]
		wantTail := ",count,last_seen,count_inbound:outbound,count_outbound:inbound," + strings.Join(baseline.ProfileColumns, ",")
		if !strings.HasSuffix(header, wantTail) {
			t.Fatalf("header %s\nwant it to end with %s", header, wantTail)
		}
		rows := profileFields(t, out)
		web := rows["c:web"]
		if web["count"] != c.wantCount || web["count_pod_spans"] != "5" {
			t.Errorf("per_pod=%t: count %s, count_pod_spans %s; want %s, 5", c.perPod, web["count"], web["count_pod_spans"], c.wantCount)
		}
		for _, f := range []struct {
			col   string
			want  float64
			ratio bool // relative tolerance (a rate) or absolute in log units
		}{
			{baseline.ColUsualInbound, 300, true},
			{baseline.ColUsualOutbound, 30, true},
			{baseline.ColHighInbound, 500, true},
			{baseline.ColHighOutbound, 1000, true},
			{baseline.ColMedianLogRatio, math.Log(0.1), false},
			{baseline.ColMADLogRatio, 0, false},
		} {
			got, err := strconv.ParseFloat(web[f.col], 64)
			if err != nil {
				t.Errorf("per_pod=%t %s: %q: %v", c.perPod, f.col, web[f.col], err)
				continue
			}
			ok := math.Abs(got-f.want) <= bucketLog
			if f.ratio {
				ok = got >= f.want/bucketFactor && got <= f.want*bucketFactor
			}
			if !ok {
				t.Errorf("per_pod=%t %s = %v, want %v within one bucket", c.perPod, f.col, got, f.want)
			}
		}
		idle := rows["c:idle"]
		for _, col := range baseline.ProfileColumns[:6] {
			if idle[col] != "" {
				t.Errorf("idle key: %s = %q, want blank (no ratio was learned)", col, idle[col])
			}
		}
		// 5 B/s is in bucket floor(16 log2 5) = 37; no ratio (inbound was 0)
		if idle["count_pod_spans"] != "1" || idle["hist_inbound_bps"] != "z1" || idle["hist_outbound_bps"] != "z0 37:1" || idle["hist_outbound:inbound"] != "z0" {
			t.Errorf("idle key: %v", idle)
		}
	}
}

// TestProfileOffKeepsTheColumns: without Config.Profile the rates are ignored and the
// file has exactly the columns it had before the profile existed.
func TestProfileOffKeepsTheColumns(t *testing.T) {
	data := gen(3, 2, 50)
	off := csvOf(t, build(Config{SignalCounts: true}, data))
	if strings.Contains(off, "usual_") || strings.Contains(off, "hist_") {
		t.Errorf("profile columns without Config.Profile:\n%.300s", off)
	}
	on := csvOf(t, build(Config{SignalCounts: true, Profile: true}, data))
	// the profile's columns come after all the others, which are unchanged
	offLines, onLines := strings.Split(off, "\n"), strings.Split(on, "\n")
	for i := range offLines {
		if !strings.HasPrefix(onLines[i], offLines[i]) {
			t.Errorf("line %d changed:\n off %s\n on  %s", i+1, offLines[i], onLines[i])
		}
	}
}

func TestProfileStateRoundTrip(t *testing.T) {
	data := gen(5, 3, 80)
	cfg := Config{Profile: true, SignalCounts: true, Volumes: true}
	l := New(cfg)
	feed(l, data, 2)
	want := csvOf(t, l.Table())
	if !strings.Contains(want, ":1 ") {
		t.Fatalf("no histogram learned:\n%.500s", want)
	}
	days, err := l.MarshalDays()
	if err != nil {
		t.Fatal(err)
	}
	restore := func(cfg Config, days map[string][]byte) *Learner {
		r := New(cfg)
		for name, b := range days {
			if err := r.RestoreDay(name, b); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	if got := csvOf(t, restore(cfg, days).Table()); got != want {
		t.Errorf("restored table differs:\n got %.400s\nwant %.400s", got, want)
	}
	// A learner without the profile keeps the models it restored, so turning the profile
	// off and on again loses no day.
	offCfg := cfg
	offCfg.Profile = false
	again, err := restore(offCfg, days).MarshalDays()
	if err != nil {
		t.Fatal(err)
	}
	if got := csvOf(t, restore(cfg, again).Table()); got != want {
		t.Error("models lost through a learner without the profile")
	}

	// Version 1 entries (before the profile) restore: no model, the other columns as before.
	old := New(offCfg)
	feed(old, data, 2)
	v1, _ := old.MarshalDays()
	for name, b := range v1 {
		if !strings.Contains(string(b), `"version":2`) || strings.Contains(string(b), `"model"`) {
			t.Fatalf("entry %s: %s", name, b)
		}
		v1[name] = []byte(strings.Replace(string(b), `"version":2`, `"version":1`, 1))
	}
	got := csvOf(t, restore(cfg, v1).Table())
	oldCSV := csvOf(t, old.Table())
	gotLines, oldLines := strings.Split(got, "\n"), strings.Split(oldCSV, "\n")
	for i := 1; i < len(oldLines)-1; i++ {
		if !strings.HasPrefix(gotLines[i], oldLines[i]+",,,,,,,0,z0,z0,z0") {
			t.Errorf("version 1 row %d:\n got %s\nwant %s followed by empty profile cells", i, gotLines[i], oldLines[i])
		}
	}

	// A damaged model fails its entry, naming it.
	for name, b := range days {
		bad := strings.Replace(string(b), `"in":"z`, `"in":"x`, 1)
		if bad == string(b) {
			continue
		}
		if err := New(cfg).RestoreDay(name, []byte(bad)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("damaged model: %v", err)
		}
		unequal := strings.Replace(string(b), `"in":"z`, `"in":"z1000`, 1)
		if err := New(cfg).RestoreDay(name, []byte(unequal)); err == nil || !strings.Contains(err.Error(), "counts") {
			t.Errorf("inbound and outbound histograms of different counts: %v", err)
		}
		break
	}
}

// TestProfileMergeIsExact: the files of two learners that saw disjoint pod-spans merge
// into exactly the profile columns of one learner that saw them all (the histograms add
// up bucket by bucket), in both modes; and a read-then-write is byte-identical.
func TestProfileMergeIsExact(t *testing.T) {
	data := gen(9, 3, 60)
	for _, perPod := range []bool{false, true} {
		cfg := Config{Profile: true, SignalCounts: true, PerPod: perPod}
		var a, b []obs
		for i, o := range data {
			if i%3 == 0 || o.start.Day() == 2 { // other pods of a span, and a whole day
				a = append(a, o)
			} else {
				b = append(b, o)
			}
		}
		all := csvOf(t, build(cfg, data))
		fileA, fileB := csvOf(t, build(cfg, a)), csvOf(t, build(cfg, b))
		ta, tb := readCSV(t, fileA, "a.csv"), readCSV(t, fileB, "b.csv")
		if got := csvOf(t, ta); got != fileA {
			t.Errorf("per_pod=%t: read-then-write differs:\n got %.300s\nwant %.300s", perPod, got, fileA)
		}
		merged, err := Merge(ta, tb)
		if err != nil {
			t.Fatal(err)
		}
		got, want := profileFields(t, csvOf(t, merged)), profileFields(t, all)
		if len(got) != len(want) {
			t.Fatalf("per_pod=%t: %d keys, want %d", perPod, len(got), len(want))
		}
		for key, w := range want {
			for _, col := range baseline.ProfileColumns {
				if got[key][col] != w[col] {
					t.Errorf("per_pod=%t %s %s:\n got %q\nwant %q", perPod, key, col, got[key][col], w[col])
				}
			}
		}
		// Merge did not change its inputs.
		if csvOf(t, ta) != fileA || csvOf(t, tb) != fileB {
			t.Errorf("per_pod=%t: Merge changed an input table", perPod)
		}
	}
	withProfile := readCSV(t, csvOf(t, build(Config{Profile: true}, data)), "p.csv")
	without := readCSV(t, csvOf(t, build(Config{}, data)), "q.csv")
	if _, err := Merge(without, withProfile); err == nil || !strings.Contains(err.Error(), "p.csv has the profile's columns") {
		t.Errorf("merge of a profile table with one without: %v", err)
	}
}

// TestLoaderReadsLearnedProfile: the component's loader reads the figures the learner
// wrote, exactly (shortest round-trip decimals), and a key without a ratio cannot score.
func TestLoaderReadsLearnedProfile(t *testing.T) {
	l := New(Config{Profile: true})
	feed(l, gen(4, 1, 200), 1)
	l.Observe("c:idle", "p", base, 0, 9, true, true)
	l.ObserveRates("c:idle", "p", base, 0, 1, 9*time.Second)
	l.Flush()
	tab := l.Table()
	b, err := baseline.Parse(strings.NewReader(csvOf(t, tab)), "learned.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !b.HasProfile() {
		t.Fatal("loader sees no profile columns")
	}
	for key, r := range tab.Rows {
		want, wantOK := r.Model.Usual()
		got, ok := b.Usual(key)
		if ok != wantOK {
			t.Errorf("%s: ok %t, want %t", key, ok, wantOK)
			continue
		}
		if ok && got != want {
			t.Errorf("%s: loaded %+v\nlearned %+v", key, got, want)
		}
	}
	if _, ok := b.Usual("c:idle"); ok {
		t.Error("c:idle has no ratio, yet it can score")
	}
	if len(tab.Rows) < 2 {
		t.Fatal("too few keys")
	}
}

func TestReadCSVProfileErrors(t *testing.T) {
	const h = "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen,count_inbound:outbound,count_outbound:inbound," +
		"usual_inbound_bps,usual_outbound_bps,high_inbound_bps,high_outbound_bps,median_ln_outbound:inbound,mad_ln_outbound:inbound,count_pod_spans,hist_inbound_bps,hist_outbound_bps,hist_outbound:inbound\n"
	// one pod-span: 8 B/s in (bucket 48), 4 B/s out (bucket 32), ratio 0.5 (bucket -16)
	const good = "a,2,0.5,0,0,1,10,1,1,8,4,8,4,-0.69,0,1,z0 48:1,z0 32:1,z0 -16:1\n"
	if _, err := ReadCSV(strings.NewReader(h+good), "base.csv"); err != nil {
		t.Fatalf("good row: %v", err)
	}
	bad := func(old, new string) string { return h + strings.Replace(good, old, new, 1) }
	cases := []struct{ in, want string }{
		{strings.Replace(h, ",count_pod_spans", "", 1) + "a\n", `base.csv:1:1: missing column "count_pod_spans": the profile's columns`},
		{strings.Replace(h, "hist_outbound:inbound", "hist_bogus", 1), `base.csv:1:19: unknown column "hist_bogus"`},
		{bad(",8,4,8,", ",-8,4,8,"), "base.csv:2:10: negative rate -8"},
		{bad(",-0.69,", ",1e9,"), "base.csv:2:14: 1e9 is not the logarithm"},
		{bad(",-0.69,0,", ",-0.69,-1,"), "base.csv:2:15: negative median absolute deviation"},
		{bad(",-0.69,0,", ",-0.69,NaN,"), `base.csv:2:15: "NaN" is not a number`},
		{bad(",0,1,z0", ",0,2,z0"), `base.csv:2:16: count_pod_spans "2" is not the number of pod-spans in the histograms, 1`},
		{bad(",0,1,z0", ",0,,z0"), `base.csv:2:16: count_pod_spans "" is not the number`},
		{bad("z0 48:1", "z0 48"), `base.csv:2:17: histogram "z0 48": "48" is not <bucket>:<count>`},
		{bad("z0 48:1", "z0 48:0"), `base.csv:2:17: histogram "z0 48:0": count "0" is not a positive integer`},
		{bad("z0 48:1", "z0 99999:1"), "base.csv:2:17: hist_inbound_bps: bucket 99999 is outside -17184..16383"},
		{bad("z0 48:1", "z0 48:1 49:1"), "base.csv:2:18: hist_inbound_bps counts 2 pod-spans but hist_outbound_bps counts 1"},
		{bad("z0 -16:1", "z1"), "base.csv:2:19: hist_outbound:inbound has 1 zeros"},
		{bad("z0 -16:1", "z0 -16:2"), "base.csv:2:19: hist_outbound:inbound counts 2 pod-spans, more than have both rates above zero"},
		{bad("z0 48:1", "z9007199254740993"), "base.csv:2:17: hist_inbound_bps: more than 2^53 values"},
		{bad("z0 48:1", `"z0 48:1,49:1"`), `base.csv:2:17: histogram "z0 48:1,49:1": count "1,49:1" is not`},
		{bad("z0 48:1", strings.Repeat("z", 5000)), "base.csv:2:17: histogram"},
	}
	for _, c := range cases {
		_, err := ReadCSV(strings.NewReader(c.in), "base.csv")
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("input %.300q:\n got %.300v\nwant %s...", c.in, err, c.want)
		}
		if err != nil && len(err.Error()) > 1500 {
			t.Errorf("error of %d bytes", len(err.Error()))
		}
	}
}

// TestObserveRatesRules: several calls for one pod-span give the rate over their covered
// time; invalid rates are counted; rates without an Observe with both directions, and
// late ones, are not learned (and the late one is not counted twice).
func TestObserveRatesRules(t *testing.T) {
	l := New(Config{Profile: true})
	l.Observe("c:a", "p", base, 1, 1, true, true)
	l.ObserveRates("c:a", "p", base, 100, 10, 10*time.Second)
	l.ObserveRates("c:a", "p", base, 400, 10, 30*time.Second) // (100*10 + 400*30) / 40 = 325
	l.ObserveRates("c:a", "q", base, 50, 50, 10*time.Second)  // q has no Observe: not learned
	l.Observe("c:a", "r", base, 1, 0, true, false)
	l.ObserveRates("c:a", "r", base, 50, 50, 10*time.Second) // r had one direction only
	l.ObserveRates("c:a", "p", base, -1, 10, time.Second)
	l.ObserveRates("c:a", "p", base, math.NaN(), 10, time.Second)
	l.ObserveRates("c:a", "p", base, 1, 10, 0)
	l.ObserveRates("c:b", "p", base, 5, 5, span) // a key with rates only: no row
	l.Advance(base.Add(3 * span))
	l.Observe("c:a", "p", base, 1, 1, true, true) // late
	l.ObserveRates("c:a", "p", base, 1, 1, span)
	if st := l.Stats(); st.Invalid != 3 || st.Late != 1 {
		t.Errorf("stats %+v, want 3 invalid and 1 late", st)
	}
	var want profile.Model
	want.Observe(325, 10)
	got := l.Table().Rows["c:a"].Model
	if text(got.In) != text(want.In) || text(got.Out) != text(want.Out) || text(got.Ratio) != text(want.Ratio) {
		t.Errorf("model %s / %s / %s, want %s / %s / %s", text(got.In), text(got.Out), text(got.Ratio), text(want.In), text(want.Out), text(want.Ratio))
	}
	if c := l.Table().Rows["c:a"].Count; c != 1 {
		t.Errorf("count %d, want 1", c)
	}
	if r, ok := l.Table().Rows["c:b"]; ok {
		t.Errorf("a key-span with rates only is a row: %+v", r)
	}
}

func text(h profile.Hist) string {
	b, _ := h.MarshalText()
	return string(b)
}
