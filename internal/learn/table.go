package learn

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// Row is one key's learned statistics.
type Row struct {
	Acc      [numSignals]Acc // indexed by Signal; N == 0 means the signal was never defined
	Count    int64           // key-spans (parity) or pod-spans (per-pod) seen
	LastSeen int64           // Unix seconds of the newest span start
	// Model is the recommended profile's histograms (Table.Profile), per pod-span whatever
	// the unit of the columns above.
	Model profile.Model

	// fileSD is the stdev as read, written back while the accumulator is unchanged, so that
	// read-then-write is byte-identical where no M2 reproduces the stdev exactly.
	fileSD [numSignals]fileStdev
}

type fileStdev struct {
	acc Acc
	sd  float64
}

// Stdev is signal s's sample standard deviation as the file has it (see fileSD).
func (r *Row) Stdev(s Signal) float64 {
	if f := r.fileSD[s]; f.acc.N > 0 && f.acc == r.Acc[s] {
		return f.sd
	}
	return r.Acc[s].Stdev()
}

// Table is a learned baseline: per-key statistics, as written to and read from CSV.
type Table struct {
	Rows map[string]*Row
	// Volumes says the table carries the volume signals as well as the ratios.
	Volumes bool
	// SignalCounts says every signal's N is exact (count_<S> columns). Without them, as in
	// a Splunk export, N = Count, too high where a direction was missing in some spans.
	SignalCounts bool
	// Profile says the table ends with baseline.ProfileColumns.
	Profile bool
	// File names the table's source in error messages; "" for tables built in memory.
	File string
}

// Keys returns the keys in byte order, the order of the CSV rows.
func (t *Table) Keys() []string {
	keys := make([]string, 0, len(t.Rows))
	for k := range t.Rows {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Signals returns the signals the table carries, in column order.
func (t *Table) Signals() []Signal { return signals(t.Volumes) }

func (t *Table) name(i int) string {
	if t.File != "" {
		return t.File
	}
	return fmt.Sprintf("table %d", i+1)
}

// Header returns the CSV header WriteCSV writes.
func (t *Table) Header() []string {
	h := []string{"key"}
	for _, g := range groups(t.Volumes) {
		for _, s := range g {
			h = append(h, "avg_"+s.String())
		}
		for _, s := range g {
			h = append(h, "stdev_"+s.String())
		}
	}
	h = append(h, "count", "last_seen")
	sigs := t.Signals()
	if t.SignalCounts {
		for _, s := range sigs {
			h = append(h, "count_"+s.String())
		}
	}
	if t.Profile {
		h = append(h, baseline.ProfileColumns...)
	}
	return h
}

// WriteCSV writes the table in Header's columns, one row per key in byte order. A row the
// baseline reader would refuse is left out, so one bad key never makes the file unreadable.
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Header()); err != nil {
		return err
	}
	sigs := t.Signals()
	for _, key := range t.Keys() {
		if baseline.CheckKey(key) != "" {
			continue
		}
		r := t.Rows[key]
		rec := []string{key}
		readable := true
		add := func(c string, isStdev bool) {
			_, _, msg := baseline.ParseNumber(c, isStdev)
			readable = readable && msg == ""
			rec = append(rec, c)
		}
		for _, g := range groups(t.Volumes) {
			for _, s := range g {
				add(cell(r.Acc[s], r.Acc[s].Mean), false)
			}
			for _, s := range g {
				add(cell(r.Acc[s], r.Stdev(s)), true)
			}
		}
		if !readable {
			continue
		}
		rec = append(rec, strconv.FormatInt(r.Count, 10), strconv.FormatInt(r.LastSeen, 10))
		if t.SignalCounts {
			for _, s := range sigs {
				rec = append(rec, strconv.FormatInt(r.Acc[s].N, 10))
			}
		}
		if t.Profile {
			rec = append(rec, profileCells(r.Model)...)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func cell(a Acc, v float64) string {
	if a.N == 0 {
		return ""
	}
	return baseline.FormatNumber(v)
}

// csvReader adds the learned file's columns to the component's CSV reader, so that the
// detection and the learner read CSV, keys and numbers alike.
type csvReader struct {
	*baseline.Reader
}

// errAt formats an error at a 1-based line and column (the CSV field number).
func (p *csvReader) errAt(line, col int, format string, args ...any) error {
	return &baseline.Error{File: p.File(), Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// errField is errAt for field i of the record just read.
func (p *csvReader) errField(i int, format string, args ...any) error {
	return p.ErrorAt(i, fmt.Sprintf(format, args...))
}

// columns maps the header to field indexes; -1 is absent.
type columns struct {
	key, count, lastSeen int
	avg, stdev, n        [numSignals]int
	prof                 []int // by baseline.ProfileColumns; -1 is absent
}

// ReadCSV reads a learned baseline back by the detection's CSV, key and number rules
// (errors read "file:line:field: ..."). It needs key, count, last_seen and the ratio pairs;
// other blocks are whole or absent, and an unknown column could not be written back.
func ReadCSV(r io.Reader, file string) (*Table, error) {
	p := &csvReader{baseline.NewReader(r, file)}
	header, err := p.Header()
	if err == io.EOF {
		return nil, p.errAt(1, 1, "empty file: no header")
	}
	if err != nil {
		return nil, err
	}
	c, volumes, counts, err := p.header(header)
	if err != nil {
		return nil, err
	}
	t := &Table{Rows: map[string]*Row{}, Volumes: volumes, SignalCounts: counts, Profile: c.prof[0] >= 0, File: file}
	firstLine := map[string]int{}
	for {
		rec, err := p.Next()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		key := rec[c.key]
		if msg := baseline.CheckKey(key); msg != "" {
			return nil, p.errField(c.key, "%s", msg)
		}
		if l, dup := firstLine[key]; dup {
			return nil, p.errField(c.key, "duplicate key %s, first on line %d", baseline.Quote(key), l)
		}
		key = strings.Clone(key) // the reader reuses its buffers
		firstLine[key] = p.Line(c.key)
		r, err := p.row(rec, c, t.Signals(), counts)
		if err != nil {
			return nil, err
		}
		if t.Profile {
			if r.Model, err = p.model(rec, c); err != nil {
				return nil, err
			}
		}
		t.Rows[key] = r
	}
}

func (p *csvReader) header(h []string) (c columns, volumes, counts bool, err error) {
	c.key, c.count, c.lastSeen = -1, -1, -1
	for s := range numSignals {
		c.avg[s], c.stdev[s], c.n[s] = -1, -1, -1
	}
	known := map[string]*int{"key": &c.key, "count": &c.count, "last_seen": &c.lastSeen}
	c.prof = make([]int, len(baseline.ProfileColumns))
	for i, name := range baseline.ProfileColumns {
		c.prof[i] = -1
		known[name] = &c.prof[i]
	}
	for s := range Signal(numSignals) {
		known["avg_"+s.String()] = &c.avg[s]
		known["stdev_"+s.String()] = &c.stdev[s]
		known["count_"+s.String()] = &c.n[s]
	}
	for i, name := range h {
		idx, ok := known[name]
		if !ok {
			return c, false, false, p.errField(i, "unknown column %s", baseline.Quote(name))
		}
		if *idx >= 0 {
			return c, false, false, p.errField(i, "duplicate column %q", name)
		}
		*idx = i
	}
	for _, req := range []string{"key", "count", "last_seen", "avg_inbound:outbound", "avg_outbound:inbound"} {
		if *known[req] < 0 {
			return c, false, false, p.errAt(1, 1, "missing column %q", req)
		}
	}
	for s := range Signal(numSignals) {
		if c.stdev[s] >= 0 && c.avg[s] < 0 {
			return c, false, false, p.errField(c.stdev[s], "stdev_%s without avg_%s", s, s)
		}
		if c.avg[s] >= 0 && c.stdev[s] < 0 {
			return c, false, false, p.errField(c.avg[s], "avg_%s without stdev_%s", s, s)
		}
	}
	volumes = c.avg[InboundIO] >= 0 || c.avg[OutboundIO] >= 0
	for _, s := range []Signal{InboundIO, OutboundIO} {
		if volumes && c.avg[s] < 0 {
			return c, false, false, p.errAt(1, 1, "missing column \"avg_%s\": the volume columns come together", s)
		}
	}
	sigs := signals(volumes)
	for s := range Signal(numSignals) {
		if c.n[s] >= 0 && !slices.Contains(sigs, s) {
			return c, false, false, p.errField(c.n[s], "count_%s without avg_%s", s, s)
		}
		if c.n[s] >= 0 {
			counts = true
		}
	}
	for _, s := range sigs {
		if counts && c.n[s] < 0 {
			return c, false, false, p.errAt(1, 1, "missing column \"count_%s\": the count_ columns come together", s)
		}
	}
	hasProfile := slices.ContainsFunc(c.prof, func(i int) bool { return i >= 0 })
	for i, name := range baseline.ProfileColumns {
		if hasProfile && c.prof[i] < 0 {
			return c, false, false, p.errAt(1, 1, "missing column %q: the profile's columns (%s) come together", name, strings.Join(baseline.ProfileColumns, ","))
		}
	}
	return c, volumes, counts, nil
}

func (p *csvReader) row(rec []string, c columns, sigs []Signal, counts bool) (*Row, error) {
	r := &Row{}
	var err error
	if r.Count, err = p.integer(rec, c.count); err != nil {
		return nil, err
	}
	if r.Count < 0 {
		return nil, p.errField(c.count, "negative count %d", r.Count)
	}
	if r.LastSeen, err = p.integer(rec, c.lastSeen); err != nil {
		return nil, err
	}
	for _, s := range sigs {
		mean, hasAvg, err := p.number(rec, c.avg[s], false)
		if err != nil {
			return nil, err
		}
		stdev, hasStdev, err := p.number(rec, c.stdev[s], true)
		if err != nil {
			return nil, err
		}
		var n int64
		if counts {
			if n, err = p.integer(rec, c.n[s]); err != nil {
				return nil, err
			}
			if n < 0 || n > r.Count {
				return nil, p.errField(c.n[s], "count_%s %d is not between 0 and count %d", s, n, r.Count)
			}
		} else if hasAvg {
			n = r.Count
		}
		switch {
		case !hasAvg && !hasStdev:
			if n != 0 {
				return nil, p.errField(c.avg[s], "avg_%s is empty but count_%s is %d", s, s, n)
			}
			continue
		case !hasAvg:
			return nil, p.errField(c.avg[s], "avg_%s is empty but stdev_%s is not", s, s)
		case !hasStdev:
			return nil, p.errField(c.stdev[s], "stdev_%s is empty but avg_%s is not", s, s)
		case n == 0 && counts:
			return nil, p.errField(c.avg[s], "avg_%s is set but count_%s is 0", s, s)
		case n == 0:
			return nil, p.errField(c.avg[s], "avg_%s is set but count is 0", s)
		case n == 1 && stdev != 0:
			return nil, p.errField(c.stdev[s], "stdev_%s of a single value must be 0, not %v", s, stdev)
		}
		m2 := m2For(stdev, n)
		if math.IsInf(m2, 0) {
			return nil, p.errField(c.stdev[s], "stdev_%s %v is too large for count %d", s, stdev, n)
		}
		r.Acc[s] = Acc{N: n, Mean: mean, M2: m2}
		r.fileSD[s] = fileStdev{acc: r.Acc[s], sd: stdev}
	}
	return r, nil
}

// model reads a row's histograms; the summary cells must read by the loader's rules but
// are not kept, since WriteCSV computes them from the histograms as a learner does.
func (p *csvReader) model(rec []string, c columns) (profile.Model, error) {
	var m profile.Model
	var hists [3]profile.Hist
	for i, name := range baseline.ProfileColumns {
		f := c.prof[i]
		switch name {
		case baseline.ColHistInbound, baseline.ColHistOutbound, baseline.ColHistRatio:
			h := &hists[i-(len(baseline.ProfileColumns)-3)]
			if strings.TrimSpace(rec[f]) == "" {
				continue // no pod-span learned
			}
			if err := h.UnmarshalText([]byte(rec[f])); err != nil {
				return m, p.errField(f, "%s", clipMsg(err.Error()))
			}
		default:
			if _, _, msg := baseline.ParseProfileCell(name, rec[f]); msg != "" {
				return m, p.errField(f, "%s", msg)
			}
		}
	}
	m = profile.Model{In: hists[0], Out: hists[1], Ratio: hists[2]}
	if h, msg := checkModel(m); msg != "" {
		return m, p.errField(c.prof[len(baseline.ProfileColumns)-3+h], "%s", msg)
	}
	count := c.prof[slices.Index(baseline.ProfileColumns, baseline.ColPodSpans)]
	if n, present, _ := baseline.ParseProfileCell(baseline.ColPodSpans, rec[count]); present && uint64(n) != m.In.N() || !present && m.In.N() != 0 {
		return m, p.errField(count, "%s %s is not the number of pod-spans in the histograms, %d", baseline.ColPodSpans, baseline.Quote(rec[count]), m.In.N())
	}
	return m, nil
}

// clipMsg bounds a message that quotes a cell (profile.Hist's errors quote all of it).
func clipMsg(s string) string {
	const maxMsg = 300
	if len(s) <= maxMsg {
		return s
	}
	return strings.ToValidUTF8(s[:maxMsg], "") + "… (cut)"
}

func (p *csvReader) integer(rec []string, i int) (int64, error) {
	v, err := strconv.ParseInt(rec[i], 10, 64)
	if err != nil {
		return 0, p.errField(i, "%s is not an integer", baseline.Quote(rec[i]))
	}
	return v, nil
}

// number reads an avg_ or stdev_ cell by the component's rules; a blank cell is no value.
func (p *csvReader) number(rec []string, i int, isStdev bool) (v float64, present bool, err error) {
	v, present, msg := baseline.ParseNumber(rec[i], isStdev)
	if msg != "" {
		return 0, false, p.errField(i, "%s", msg)
	}
	return v, present, nil
}

// Merge combines baselines learned from disjoint data (Chan et al.'s pairwise combination).
// All tables must carry the same signals; per-signal counts are exact only if every input's are.
func Merge(tables ...*Table) (*Table, error) {
	if len(tables) == 0 {
		return nil, errors.New("learn: merge: no tables")
	}
	out := &Table{Rows: map[string]*Row{}, Volumes: tables[0].Volumes, SignalCounts: true, Profile: tables[0].Profile}
	for i, t := range tables {
		if t.Volumes != out.Volumes {
			with, without := t.name(i), tables[0].name(0)
			if !t.Volumes {
				with, without = without, with
			}
			return nil, fmt.Errorf("learn: merge: column sets differ: %s has the volume columns, %s does not", with, without)
		}
		if t.Profile != out.Profile {
			with, without := t.name(i), tables[0].name(0)
			if !t.Profile {
				with, without = without, with
			}
			return nil, fmt.Errorf("learn: merge: column sets differ: %s has the profile's columns (%s, ...), %s does not", with, baseline.ColUsualInbound, without)
		}
		out.SignalCounts = out.SignalCounts && t.SignalCounts
		for _, key := range t.Keys() { // key order does not matter; it keeps runs identical
			r := t.Rows[key]
			m := out.Rows[key]
			if m == nil {
				c := *r
				c.Model = profile.Model{}
				c.Model.Merge(r.Model) // a copy: merging more into it must not change the input
				out.Rows[key] = &c
				continue
			}
			m.Model.Merge(r.Model)
			for s := range Signal(numSignals) {
				m.Acc[s] = m.Acc[s].Merge(r.Acc[s])
			}
			m.Count += r.Count
			m.LastSeen = max(m.LastSeen, r.LastSeen)
		}
	}
	return out, nil
}
