package baseline

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const ratioHeader = "key,avg_inbound:outbound,stdev_inbound:outbound\n"

func TestParseErrors(t *testing.T) {
	const known = "known signals: inbound:outbound, outbound:inbound, inbound_network_io, outbound_network_io"
	tests := []struct {
		name    string
		in      string
		line    int
		col     int
		colName string
		msg     string
	}{
		{"not a number", ratioHeader + "prod:web,0.5,0.05\nprod:api,abc,0.1\n", 3, 2, "avg_inbound:outbound", `"abc" is not a number`},
		{"NaN", ratioHeader + "prod:web,0.5,NaN\n", 2, 3, "stdev_inbound:outbound", `"NaN" is not a number`},
		{"nan lower case", ratioHeader + "prod:web,nan,0.1\n", 2, 2, "avg_inbound:outbound", `"nan" is not a number`},
		{"Inf", ratioHeader + "prod:web,Inf,0.1\n", 2, 2, "avg_inbound:outbound", `"Inf" is not a number`},
		{"-Inf", ratioHeader + "prod:web,-Inf,0.1\n", 2, 2, "avg_inbound:outbound", `"-Inf" is not a number`},
		{"+infinity", ratioHeader + "prod:web,0.5,+infinity\n", 2, 3, "stdev_inbound:outbound", `"+infinity" is not a number`},
		{"out of range", ratioHeader + "prod:web,1e400,0.1\n", 2, 2, "avg_inbound:outbound", `"1e400" is not a number (out of float64 range)`},
		{"hex float", ratioHeader + "prod:web,0x1p-2,0.1\n", 2, 2, "avg_inbound:outbound", `"0x1p-2" is not a number`},
		{"digit separator", ratioHeader + "prod:web,1_000,0.1\n", 2, 2, "avg_inbound:outbound", `"1_000" is not a number`},
		{"two points", ratioHeader + "prod:web,1.2.3,0.1\n", 2, 2, "avg_inbound:outbound", `"1.2.3" is not a number`},
		{"not a number in avg-only column", "key,avg_inbound:outbound,stdev_inbound:outbound,avg_outbound_network_io\nprod:web,0.5,0.05,lots\n",
			2, 4, "avg_outbound_network_io", `"lots" is not a number`},
		{"negative stdev", ratioHeader + "prod:web,0.5,-0.1\n", 2, 3, "stdev_inbound:outbound", "negative standard deviation -0.1"},
		{"duplicate key", ratioHeader + "prod:web,0.5,0.05\nprod:api,1,0.1\nprod:web,0.6,0.05\n", 4, 1, "key", `duplicate key "prod:web", first on line 2`},
		{"empty key", ratioHeader + "prod:web,0.5,0.05\n,0.5,0.05\n", 3, 1, "key", "empty key"},
		{"blank key", ratioHeader + "  ,0.5,0.05\n", 2, 1, "key", "empty key"},
		{"empty key not first", "count,key,avg_inbound:outbound,stdev_inbound:outbound\n5,,0.5,0.05\n", 2, 2, "key", "empty key"},
		{"missing key column", "service,avg_inbound:outbound,stdev_inbound:outbound\nweb,0.5,0.05\n", 1, 0, "", `no "key" column`},
		{"stdev without avg", "key,avg_inbound:outbound,stdev_inbound:outbound,stdev_outbound:inbound\nprod:web,0.5,0.05,0.2\n",
			1, 4, "stdev_outbound:inbound", `no matching "avg_outbound:inbound" column`},
		{"unknown avg signal", "key,avg_in:out,avg_inbound:outbound,stdev_inbound:outbound\n", 1, 2, "avg_in:out", `unknown signal "in:out"; ` + known},
		{"unknown stdev signal", "key,avg_inbound:outbound,stdev_inbound:outbound,stdev_Inbound_Network_IO\n", 1, 4, "stdev_Inbound_Network_IO",
			`unknown signal "Inbound_Network_IO"; ` + known},
		{"duplicate ignored column", "key,count,avg_inbound:outbound,stdev_inbound:outbound,count\n", 1, 5, "count", "duplicate header column, first at column 2"},
		{"duplicate signal column", "key,avg_inbound:outbound,stdev_inbound:outbound,avg_inbound:outbound\n", 1, 4, "avg_inbound:outbound",
			"duplicate header column, first at column 2"},
		{"row too short", ratioHeader + "prod:web,0.5,0.05\nprod:api,0.5\n", 3, 0, "", "row has 2 fields, header has 3"},
		{"row too long", ratioHeader + "prod:web,0.5,0.05,8640\n", 2, 0, "", "row has 4 fields, header has 3"},
		{"bare quote", ratioHeader + "prod:web,0.5,0\"5\n", 2, 15, "", `bare " in non-quoted-field`},
		{"text after closing quote", ratioHeader + "prod:web,\"0.5\"x,0.05\n", 2, 14, "", `extraneous or missing " in quoted-field`},
		{"unterminated quote", ratioHeader + "prod:web,0.5,0.05\n\"prod:api,1,0.1\n", 3, 17, "", `extraneous or missing " in quoted-field`},
		{"empty file", "", 1, 0, "", "empty file"},
		{"BOM only", "\uFEFF", 1, 0, "", "empty file"},
		{"blank lines only", "\n\r\n\n", 1, 0, "", "empty file"},
		{"no signal columns", "key,count,last_seen\nprod:web,8640,1700000000\n", 1, 0, "", "no scorable signal: need a stdev_<S> column and its avg_<S> column for one of inbound:outbound"},
		{"avg columns only", "key,avg_inbound:outbound,avg_outbound:inbound\n", 1, 0, "", "no scorable signal"},
		// encoding/csv skips blank lines and quoted cells may span lines: the reported line must still be the file's.
		{"line after blank lines", "\n" + ratioHeader + "\nprod:web,x,0.05\n", 4, 2, "avg_inbound:outbound", `"x" is not a number`},
		{"line after multi-line cell", "key,note,avg_inbound:outbound,stdev_inbound:outbound\nprod:web,\"a\nb\nc\",0.5,0.05\nprod:api,,0.5,-1\n",
			5, 4, "stdev_inbound:outbound", "negative standard deviation"},
		{"header line after BOM and CRLF", "\uFEFF\r\nkey,avg_inbound:outbound\r\n", 2, 0, "", "no scorable signal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse(strings.NewReader(tt.in), "baseline.csv")
			if err == nil {
				t.Fatalf("Parse succeeded with %d keys, want an error", b.Len())
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if e.File != "baseline.csv" || e.Line != tt.line || e.Column != tt.col || e.ColumnName != tt.colName {
				t.Errorf("error at %s:%d:%d column %q, want baseline.csv:%d:%d column %q (%v)",
					e.File, e.Line, e.Column, e.ColumnName, tt.line, tt.col, tt.colName, err)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", e.Msg, tt.msg)
			}
			want := fmt.Sprintf("baseline.csv:%d:%d: ", tt.line, tt.col)
			if tt.col == 0 {
				want = fmt.Sprintf("baseline.csv:%d: ", tt.line)
			}
			if tt.colName != "" {
				want += fmt.Sprintf("column %q: ", tt.colName)
			}
			if got := err.Error(); !strings.HasPrefix(got, want) || !strings.HasSuffix(got, e.Msg) {
				t.Errorf("Error() = %q, want prefix %q", got, want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "baseline.csv", Line: 3, Column: 2, ColumnName: "avg_inbound:outbound", Msg: `"abc" is not a number`},
			`baseline.csv:3:2: column "avg_inbound:outbound": "abc" is not a number`},
		{Error{File: "baseline.csv", Line: 1, Msg: `no "key" column`}, `baseline.csv:1: no "key" column`},
		{Error{File: "b.csv", Line: 2, Column: 7, Msg: `bare " in non-quoted-field`}, `b.csv:2:7: bare " in non-quoted-field`},
		{Error{File: "/etc/b.csv", Msg: "is a directory"}, "/etc/b.csv: is a directory"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// stat builds the expected Stat for a signal.
func stat(avg, stdev float64, scorable bool) Stat {
	return Stat{Avg: avg, Stdev: stdev, Scorable: scorable}
}

func mustLoad(t *testing.T, path string) *Baseline {
	t.Helper()
	b, err := loadFile(path)
	if err != nil {
		t.Fatalf("loadFile(%s): %v", path, err)
	}
	return b
}

func checkKey(t *testing.T, b *Baseline, key string, want [NumSignals]Stat) {
	t.Helper()
	got, ok := b.Lookup(key)
	if !ok {
		t.Fatalf("Lookup(%q) not found", key)
	}
	if *got != want {
		t.Errorf("Lookup(%q) = %+v, want %+v", key, *got, want)
	}
}

func TestLoadRatioBaseline(t *testing.T) {
	path := filepath.Join("testdata", "ratio.csv")
	b := mustLoad(t, path)
	if b.File() != path {
		t.Errorf("File() = %q, want %q", b.File(), path)
	}
	if b.Len() != 4 {
		t.Errorf("Len() = %d, want 4", b.Len())
	}
	if got, want := b.Signals(), []Signal{InboundOutbound, OutboundInbound}; !slices.Equal(got, want) {
		t.Errorf("Signals() = %v, want %v", got, want)
	}
	checkKey(t, b, "prod:web", [NumSignals]Stat{
		InboundOutbound: stat(0.5, 0.05, true),
		OutboundInbound: stat(2.1, 0.2, true),
	})
	// stdev 0 is not scored: the search would divide by it and a single sample says nothing about spread.
	checkKey(t, b, "prod:fluentd", [NumSignals]Stat{
		InboundOutbound: stat(0.02, 0.004, true),
		OutboundInbound: stat(48.5, 0, false),
	})
	// A blank stdev is Splunk's null: that signal is not scored, the other one still is.
	checkKey(t, b, "prod:api", [NumSignals]Stat{
		InboundOutbound: stat(1.25, 0, false),
		OutboundInbound: stat(0.8, 0.1, true),
	})
	checkKey(t, b, "dev:kube-apiserver-minikube", [NumSignals]Stat{})
}

func TestLookupMissingKey(t *testing.T) {
	b := mustLoad(t, filepath.Join("testdata", "ratio.csv"))
	for _, key := range []string{"", "prod", "prod:web ", "PROD:web", "staging:web"} {
		if st, ok := b.Lookup(key); ok || st != nil {
			t.Errorf("Lookup(%q) = %v, %v; want nil, false", key, st, ok)
		}
	}
	var nilBaseline *Baseline
	if st, ok := nilBaseline.Lookup("prod:web"); ok || st != nil {
		t.Errorf("nil Baseline Lookup = %v, %v; want nil, false", st, ok)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	b := mustLoad(t, filepath.Join("testdata", "ratio.csv"))
	key := strings.Clone("prod:web")
	var sink float64
	allocs := testing.AllocsPerRun(1000, func() {
		st, _ := b.Lookup(key)
		sink += st[InboundOutbound].Avg
		_, _ = b.Lookup("missing:key")
		sink += float64(len(b.Signals()))
	})
	if allocs != 0 {
		t.Errorf("Lookup allocates %v times per call, want 0", allocs)
	}
	_ = sink
}

func TestLookupReturnsSameRow(t *testing.T) {
	b := mustLoad(t, filepath.Join("testdata", "ratio.csv"))
	p1, _ := b.Lookup("prod:web")
	p2, _ := b.Lookup("prod:web")
	p3, _ := b.Lookup("prod:api")
	if p1 != p2 {
		t.Error("two Lookups of one key returned different rows: Lookup copies instead of pointing into the table")
	}
	if p1 == p3 {
		t.Error("two keys share a row")
	}
}

func TestBOMAndCRLF(t *testing.T) {
	path := filepath.Join("testdata", "bom_crlf.csv")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Guard the fixture itself: an editor or git could silently strip what this test is about.
	if !bytes.HasPrefix(raw, []byte("\uFEFFkey,")) || bytes.Count(raw, []byte("\r\n")) != 3 {
		t.Fatalf("fixture %s lost its BOM or CRLF line ends: %q", path, raw)
	}
	b := mustLoad(t, path)
	if b.Len() != 2 {
		t.Errorf("Len() = %d, want 2", b.Len())
	}
	// The last column is a signal: a CR left on it would make it "0.05\r", not a number.
	checkKey(t, b, "prod:web", [NumSignals]Stat{InboundOutbound: stat(0.5, 0.05, true)})
	checkKey(t, b, "prod:api", [NumSignals]Stat{InboundOutbound: stat(1.25, 0.2, true)})
}

func TestQuotedCells(t *testing.T) {
	b := mustLoad(t, filepath.Join("testdata", "quoted.csv"))
	if b.Len() != 3 {
		t.Errorf("Len() = %d, want 3", b.Len())
	}
	if got, want := b.Signals(), []Signal{InboundOutbound}; !slices.Equal(got, want) {
		t.Errorf("Signals() = %v, want %v", got, want)
	}
	checkKey(t, b, "prod:web", [NumSignals]Stat{InboundOutbound: stat(0.5, 0.05, true)})
	// Spaces around a number are tolerated; the note cell spans two lines inside quotes.
	checkKey(t, b, "prod:api", [NumSignals]Stat{InboundOutbound: stat(1.25, 0.2, true)})
	checkKey(t, b, "prod:db", [NumSignals]Stat{InboundOutbound: stat(3, 0.5, true)})
}

func TestColumnOrderGivesSignalOrder(t *testing.T) {
	b := mustLoad(t, filepath.Join("testdata", "order.csv"))
	// The stdev_ columns decide the order, not the avg_ columns and not the Signal constants.
	if got, want := b.Signals(), []Signal{OutboundInbound, InboundOutbound}; !slices.Equal(got, want) {
		t.Errorf("Signals() = %v, want %v", got, want)
	}
	// avg_inbound_network_io has no stdev_ column: allowed, kept, never scored.
	checkKey(t, b, "prod:web", [NumSignals]Stat{
		InboundOutbound: stat(0.5, 0.05, true),
		OutboundInbound: stat(2.1, 0.2, true),
		InboundIO:       stat(52000, 0, false),
	})
}

func TestVolumeBaseline(t *testing.T) {
	b := mustLoad(t, filepath.Join("testdata", "volume.csv"))
	if got, want := b.Signals(), []Signal{InboundIO, OutboundIO}; !slices.Equal(got, want) {
		t.Errorf("Signals() = %v, want %v", got, want)
	}
	checkKey(t, b, "prod:web", [NumSignals]Stat{
		InboundIO:  stat(52000, 6500, true),
		OutboundIO: stat(18000.5, 2100, true),
	})
	checkKey(t, b, "prod:batch", [NumSignals]Stat{
		InboundIO:  stat(1e6, 2.5e5, true),
		OutboundIO: stat(0, 0, false),
	})
}

func TestHeaderOnlyIsValid(t *testing.T) {
	b, err := Parse(strings.NewReader("key,avg_outbound:inbound,stdev_outbound:inbound,count,last_seen\n"), "empty.csv")
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 0 {
		t.Errorf("Len() = %d, want 0", b.Len())
	}
	if got, want := b.Signals(), []Signal{OutboundInbound}; !slices.Equal(got, want) {
		t.Errorf("Signals() = %v, want %v", got, want)
	}
	if _, ok := b.Lookup("prod:web"); ok {
		t.Error("Lookup found a key in an empty baseline")
	}
}

func TestOtherColumnsIgnored(t *testing.T) {
	// Only avg_/stdev_ cells of known signals are validated; count, last_seen and the rest may hold anything.
	in := "last_seen,count,owner,key,avg_inbound:outbound,stdev_inbound:outbound,\n" +
		"yesterday,many,team a,prod:web,0.5,0.05,\n"
	b, err := Parse(strings.NewReader(in), "b.csv")
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, b, "prod:web", [NumSignals]Stat{InboundOutbound: stat(0.5, 0.05, true)})
}

func TestNumberForms(t *testing.T) {
	for _, cell := range []string{"0.5", ".5", "5e-1", "5E-1", "+0.5", " 0.5", "0.5\t", "0.50000"} {
		b, err := Parse(strings.NewReader(ratioHeader+"prod:web,"+cell+",1\n"), "b.csv")
		if err != nil {
			t.Errorf("cell %q: %v", cell, err)
			continue
		}
		checkKey(t, b, "prod:web", [NumSignals]Stat{InboundOutbound: stat(0.5, 1, true)})
	}
	// Negative zero is not negative: it is a zero stdev, so not scored.
	b, err := Parse(strings.NewReader(ratioHeader+"prod:web,0.5,-0\n"), "b.csv")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := b.Lookup("prod:web"); st[InboundOutbound].Scorable {
		t.Error("stdev -0 is scorable")
	}
}

func TestFormatNumber(t *testing.T) {
	x := 0.1
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{x + 0.2, "0.30000000000000004"}, {3, "3"}, {0, "0"}, {1e21, "1000000000000000000000"},
		{1e-7, "0.0000001"}, {0.125, "0.125"}, {1.0 / 3, "0.3333333333333333"}, {MaxValue, "1" + strings.Repeat("0", 300)},
	} {
		got := FormatNumber(tc.v)
		if got != tc.want {
			t.Errorf("FormatNumber(%v) = %q, want %q", tc.v, got, tc.want)
		}
		if back, _, msg := ParseNumber(got, false); back != tc.v {
			t.Errorf("ParseNumber(%q) = %v (%s), want %v", got, back, msg, tc.v)
		}
	}
}

func TestSignalsIsNotAppendable(t *testing.T) {
	// Signals shares its slice; an append by one caller must not change what the next caller sees.
	b := mustLoad(t, filepath.Join("testdata", "volume.csv"))
	_ = append(b.Signals(), InboundOutbound)
	if got, want := b.Signals(), []Signal{InboundIO, OutboundIO}; !slices.Equal(got, want) {
		t.Errorf("Signals() = %v after an append, want %v", got, want)
	}
	full := b.Signals()[:cap(b.Signals())]
	if len(full) != 2 {
		t.Errorf("Signals() has spare capacity %d, an append would write into the table", cap(b.Signals()))
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := loadFile(filepath.Join(t.TempDir(), "missing.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want os.ErrNotExist", err)
	}
	dir := t.TempDir()
	var e *Error
	if _, err := loadFile(dir); !errors.As(err, &e) || e.File != dir {
		t.Errorf("Load of a directory: %v, want an *Error naming it", err)
	}
	path := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(path, []byte(ratioHeader+"prod:web,0.5,abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := loadFile(path)
	want := path + `:2:3: column "stdev_inbound:outbound": "abc" is not a number`
	if err == nil || err.Error() != want {
		t.Errorf("Load: %v, want %s", err, want)
	}
}

// TestParseRefusesNonsense: each of these was silently accepted before; each must be refused
// with file, line and column, since it would score nonsense or never match a pod.
func TestParseRefusesNonsense(t *testing.T) {
	const volHeader = "key,avg_inbound_network_io,stdev_inbound_network_io\n"
	tests := []struct {
		name      string
		in        string
		line, col int
		msg       string
	}{
		{"negative ratio avg", ratioHeader + "prod:web,-0.5,0.05\n", 2, 2, "negative average -0.5"},
		{"negative volume avg", volHeader + "prod:web,-52000,6500\n", 2, 2, "negative average -52000"},
		{"negative avg in an avg-only column", "key,avg_inbound:outbound,stdev_inbound:outbound,avg_outbound_network_io\nprod:web,0.5,0.05,-1\n",
			2, 4, "negative average -1"},
		{"subnormal stdev", ratioHeader + "prod:web,0.5,1e-320\n", 2, 3, "standard deviation 1e-320 is above 0 but below 1e-300"},
		{"stdev that underflows to 0", ratioHeader + "prod:web,0.5,1e-400\n", 2, 3, "standard deviation 1e-400 is above 0 but below 1e-300"},
		{"huge avg", ratioHeader + "prod:web,1e308,0.05\n", 2, 2, "1e308 is larger than 1e+300"},
		{"huge stdev", ratioHeader + "prod:web,0.5,1e308\n", 2, 3, "1e308 is larger than 1e+300"},
		{"key with NUL", ratioHeader + "prod:w\x00eb,0.5,0.05\n", 2, 1, `key "prod:w\x00eb" has a control character (U+0000)`},
		{"key with LF", ratioHeader + "\"prod:x\ny\",0.5,0.05\n", 2, 1, `key "prod:x\ny" has a control character (U+000A)`},
		{"key with DEL", ratioHeader + "prod:web\x7f,0.5,0.05\n", 2, 1, "has a control character (U+007F)"},
		{"key with invalid UTF-8", ratioHeader + "prod:w\xffeb,0.5,0.05\n", 2, 1, `key "prod:w\xffeb" is not valid UTF-8`},
		{"key with leading space", ratioHeader + " prod:web,0.5,0.05\n", 2, 1, `key " prod:web" has leading or trailing spaces`},
		{"key with trailing space", ratioHeader + "prod:web ,0.5,0.05\n", 2, 1, `key "prod:web " has leading or trailing spaces`},
		{"key with trailing tab", ratioHeader + "prod:web\t,0.5,0.05\n", 2, 1, "has leading or trailing spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse(strings.NewReader(tt.in), "baseline.csv")
			if err == nil {
				t.Fatalf("Parse accepted it (%d keys)", b.Len())
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "baseline.csv" || e.Line != tt.line || e.Column != tt.col || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("error %v, want baseline.csv:%d:%d and %q", err, tt.line, tt.col, tt.msg)
			}
		})
	}
}

// TestBoundaryValuesAccepted: the bounds themselves are valid, and so are -0 and an exact 0.
func TestBoundaryValuesAccepted(t *testing.T) {
	b, err := Parse(strings.NewReader(ratioHeader+"a:max,1e300,1e300\na:min,0,1e-300\na:zero,-0,0.0e-500\n"), "b.csv")
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, b, "a:max", [NumSignals]Stat{InboundOutbound: stat(1e300, 1e300, true)})
	checkKey(t, b, "a:min", [NumSignals]Stat{InboundOutbound: stat(0, 1e-300, true)})
	checkKey(t, b, "a:zero", [NumSignals]Stat{InboundOutbound: stat(0, 0, false)})
}

// TestHugeCellIsNotEchoed: an error quotes at most about 100 bytes of a cell or header name,
// with the cell's size, however large the cell is (1 MiB here; 10 MiB only makes -race slow).
func TestHugeCellIsNotEchoed(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	tests := []struct{ name, in, quoted string }{
		{"number cell", ratioHeader + "prod:web," + huge + ",0.05\n", `"` + huge[:100] + `"… (1048576 bytes) is not a number`},
		{"number cell of digits", ratioHeader + "prod:web,-" + strings.Repeat("1", 1<<20) + ",0.05\n", "… (1048577 bytes)"},
		{"key", ratioHeader + "prod:web\x00" + huge + ",0.5,0.05\n", "… (1048585 bytes) has a control character"},
		{"duplicate key", ratioHeader + huge + ",0.5,0.05\n" + huge + ",0.5,0.05\n", "… (1048576 bytes), first on line 2"},
		{"header name", "key,avg_inbound:outbound,stdev_inbound:outbound,avg_" + huge + "\n", "… (1048580 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in), "baseline.csv")
			if err == nil {
				t.Fatal("accepted")
			}
			if msg := err.Error(); len(msg) > 600 || !strings.Contains(msg, tt.quoted) {
				t.Errorf("error of %d bytes %.300q..., want at most 600 bytes containing %.150q", len(msg), msg, tt.quoted)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	if got := Quote("prod:web"); got != `"prod:web"` {
		t.Errorf("short: %s", got)
	}
	// The cut does not split a character: 99 bytes of x, then a 3-byte rune that would cross byte 100.
	s := strings.Repeat("x", 99) + "€€"
	if got, want := Quote(s), `"`+strings.Repeat("x", 99)+`"… (105 bytes)`; got != want {
		t.Errorf("long: %s, want %s", got, want)
	}
}

// loadFile reads a baseline file as the Reloader does, with the default size limit.
func loadFile(path string) (*Baseline, error) {
	b, _, err := load(path, DefaultMaxBytes)
	return b, err
}
