package baseline

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

const profileHeader = "key,avg_outbound:inbound,stdev_outbound:inbound,count," +
	"usual_inbound_bps,usual_outbound_bps,high_inbound_bps,high_outbound_bps,median_ln_outbound:inbound,mad_ln_outbound:inbound,count_pod_spans," +
	"hist_inbound_bps,hist_outbound_bps,hist_outbound:inbound\n"

func TestProfileColumnsRead(t *testing.T) {
	nan := math.NaN()
	in := profileHeader +
		"c:web,0.5,0.1,10,300,30,500,1000,-2.3,0.04,5,z0 131:1,z0 78:1,z0 -53:1\n" +
		"c:nohigh,0.5,0.1,10,300,30,,,0.5,0,5,whatever,is,ignored\n" +
		"c:idle,0.5,0.1,10,,,,,,,1,,,\n" +
		"c:nomad,0.5,0.1,10,300,30,500,1000,-2.3,,5,,,\n"
	b, err := Parse(strings.NewReader(in), "p.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !b.HasProfile() {
		t.Fatal("no profile")
	}
	cases := []struct {
		key  string
		want profile.Usual
		ok   bool
	}{
		{"c:web", profile.Usual{In: 300, Out: 30, InHigh: 500, OutHigh: 1000, LogRatio: -2.3, LogRatioMAD: 0.04, N: 5}, true},
		{"c:nohigh", profile.Usual{In: 300, Out: 30, InHigh: nan, OutHigh: nan, LogRatio: 0.5, LogRatioMAD: 0, N: 5}, true},
		{"c:idle", profile.Usual{In: nan, Out: nan, InHigh: nan, OutHigh: nan, LogRatio: nan, LogRatioMAD: nan, N: 1}, false},
		{"c:nomad", profile.Usual{In: 300, Out: 30, InHigh: 500, OutHigh: 1000, LogRatio: -2.3, LogRatioMAD: nan, N: 5}, false},
		{"c:absent", profile.Usual{}, false},
	}
	same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	for _, c := range cases {
		got, ok := b.Usual(c.key)
		if ok != c.ok {
			t.Errorf("%s: ok %t, want %t", c.key, ok, c.ok)
		}
		if c.key == "c:absent" {
			continue
		}
		g, w := got, c.want
		if !same(g.In, w.In) || !same(g.Out, w.Out) || !same(g.InHigh, w.InHigh) || !same(g.OutHigh, w.OutHigh) ||
			!same(g.LogRatio, w.LogRatio) || !same(g.LogRatioMAD, w.LogRatioMAD) || g.N != w.N {
			t.Errorf("%s: %+v, want %+v", c.key, got, c.want)
		}
	}
	// Parity scoring of the same file is unchanged by the extra columns.
	if st, ok := b.Lookup("c:web"); !ok || !st[OutboundInbound].Scorable || st[OutboundInbound].Avg != 0.5 {
		t.Errorf("parity stats: %+v", st)
	}
}

// TestSplunkLookupHasNoProfile: the search's own lookup loads as before and has no profile.
func TestSplunkLookupHasNoProfile(t *testing.T) {
	b, err := Parse(strings.NewReader("key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n"+
		"prod:web,2.5,0.5,0.25,0.125,8640,1764547200\n"), "lookup.csv")
	if err != nil {
		t.Fatal(err)
	}
	if b.HasProfile() {
		t.Error("a Splunk lookup has a profile")
	}
	if _, ok := b.Usual("prod:web"); ok {
		t.Error("a Splunk lookup key can score in the recommended profile")
	}
	var nilB *Baseline
	if _, ok := nilB.Usual("prod:web"); ok || nilB.HasProfile() {
		t.Error("nil baseline has a profile")
	}
}

func TestProfileCellsRefused(t *testing.T) {
	const good = "c:web,0.5,0.1,10,300,30,500,1000,-2.3,0.04,5,,,\n"
	bad := func(old, new string) string { return profileHeader + strings.Replace(good, old, new, 1) }
	cases := []struct {
		name, in string
		col      int
		colName  string
		msg      string
	}{
		{"negative rate", bad(",300,", ",-300,"), 5, "usual_inbound_bps", "negative rate -300: bytes per second are never negative"},
		{"NaN rate", bad(",30,", ",NaN,"), 6, "usual_outbound_bps", `"NaN" is not a number`},
		{"Inf high", bad(",500,", ",Inf,"), 7, "high_inbound_bps", `"Inf" is not a number`},
		{"huge high", bad(",1000,", ",1e301,"), 8, "high_outbound_bps", "rate 1e301 is larger than 1e+300"},
		{"out of range", bad(",1000,", ",1e400,"), 8, "high_outbound_bps", `"1e400" is not a number`},
		{"hex", bad(",300,", ",0x10,"), 5, "usual_inbound_bps", `"0x10" is not a number`},
		{"log too large", bad(",-2.3,", ",-1501,"), 9, "median_ln_outbound:inbound", "-1501 is not the logarithm of a ratio of finite rates"},
		{"negative MAD", bad(",0.04,", ",-0.04,"), 10, "mad_ln_outbound:inbound", "negative median absolute deviation -0.04"},
		{"huge MAD", bad(",0.04,", ",3001,"), 10, "mad_ln_outbound:inbound", "median absolute deviation 3001 is larger than 3000"},
		{"fractional count", bad(",5,", ",5.5,"), 11, "count_pod_spans", `"5.5" is not an integer between 0 and 2^53`},
		{"negative count", bad(",5,", ",-5,"), 11, "count_pod_spans", `"-5" is not an integer`},
		{"huge cell", bad(",300,", ","+strings.Repeat("9", 5000)+","), 5, "usual_inbound_bps", `"9999`},
		{"quoted garbage", bad(",300,", `,"3,00",`), 5, "usual_inbound_bps", `"3,00" is not a number`},
	}
	for _, c := range cases {
		_, err := Parse(strings.NewReader(c.in), "p.csv")
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: got %v, want an *Error", c.name, err)
			continue
		}
		if e.Line != 2 || e.Column != c.col || e.ColumnName != c.colName || !strings.HasPrefix(e.Msg, c.msg) {
			t.Errorf("%s: got %v\nwant p.csv:2:%d: column %q: %s...", c.name, err, c.col, c.colName, c.msg)
		}
		if len(err.Error()) > maxErrorLen {
			t.Errorf("%s: error of %d bytes", c.name, len(err.Error()))
		}
	}
	// a negative median of a log is fine: the ratio is below 1
	if _, err := Parse(strings.NewReader(bad(",-2.3,", ",-1500,")), "p.csv"); err != nil {
		t.Errorf("median -1500: %v", err)
	}
	// the figures a key needs to score come together
	h := strings.Replace(profileHeader, ",mad_ln_outbound:inbound", "", 1)
	_, err := Parse(strings.NewReader(h), "p.csv")
	if err == nil || !strings.HasPrefix(err.Error(), `p.csv:1:5: column "usual_inbound_bps": no "mad_ln_outbound:inbound" column`) {
		t.Errorf("missing MAD column: %v", err)
	}
}
