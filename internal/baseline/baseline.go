// Package baseline reads the per-service baseline that pod-spans are scored against:
// the CSV that `| inputlookup k8s_container_network_io_ratio_baseline` exports from Splunk.
package baseline

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
)

// Stat is one signal's baseline for one key.
type Stat struct {
	Avg, Stdev float64
	Scorable   bool // both cells present, finite, and Stdev > 0 (the search's nulls never flag; stdev 0 is not scored)
}

// Baseline is one parsed baseline file; it is immutable once built, so readers need no locking.
type Baseline struct {
	file    string
	signals []Signal
	index   map[string]int32 // key -> row; an index rather than pointers keeps the map small and the rows in one allocation
	rows    [][NumSignals]Stat
}

// Error is a problem in a baseline file, located by line and column.
type Error struct {
	File       string
	Line       int    // 1-based; 0 when the problem is not on a line
	Column     int    // 1-based CSV field index (for malformed CSV, encoding/csv's byte column); 0 when not applicable
	ColumnName string // header name of Column, when known
	Msg        string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
	}
	b.WriteString(": ")
	if e.ColumnName != "" {
		b.WriteString("column " + strconv.Quote(e.ColumnName) + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Signals returns the scored signals in the order of the file's stdev_ columns (the search's foreach stdev_*).
// The slice is shared by all callers and must not be modified; sharing keeps the hot path allocation-free.
func (b *Baseline) Signals() []Signal { return b.signals }

// Lookup returns the key's stats, indexed by Signal. The pointer is into the shared table and must not be modified.
func (b *Baseline) Lookup(key string) (stats *[NumSignals]Stat, ok bool) {
	if b == nil {
		return nil, false
	}
	i, ok := b.index[key]
	if !ok {
		return nil, false
	}
	return &b.rows[i], true
}

// Len returns the number of keys.
func (b *Baseline) Len() int { return len(b.rows) }

// File returns the name the baseline was read from.
func (b *Baseline) File() string { return b.file }

// Load reads and parses the baseline file at path.
func Load(path string) (*Baseline, error) {
	b, _, err := load(path)
	return b, err
}

// load also returns the file state that was actually read, so the Reloader can remember it.
func load(path string) (*Baseline, fs.FileInfo, error) {
	data, fi, err := readStable(path)
	if err != nil {
		return nil, nil, err
	}
	b, err := Parse(bytes.NewReader(data), path)
	return b, fi, err
}

// errUnstable marks a file that changed while it was read, so its content may be half old, half new.
var errUnstable = errors.New("file changed while being read")

// readStable reads the whole file and returns the state of what it read; it retries a file that is being
// rewritten in place, because a truncated CSV can still parse and must not be scored against.
func readStable(path string) ([]byte, fs.FileInfo, error) {
	var err error
	for range 3 {
		var data []byte
		var fi fs.FileInfo
		data, fi, err = readOnce(path)
		if !errors.Is(err, errUnstable) {
			return data, fi, err
		}
	}
	return nil, nil, err
}

func readOnce(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if before.IsDir() {
		return nil, nil, &Error{File: path, Msg: "is a directory, not a baseline file"}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	if testHookAfterRead != nil {
		testHookAfterRead(path)
	}
	after, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	// The length test also catches a rewrite within one mtime tick on filesystems with coarse timestamps.
	if !sameState(before, after) || (after.Mode().IsRegular() && int64(len(data)) != after.Size()) {
		return nil, nil, &unstableError{path}
	}
	return data, after, nil
}

// testHookAfterRead lets tests change the file between reading it and checking it is unchanged.
var testHookAfterRead func(path string)

type unstableError struct{ path string }

func (e *unstableError) Error() string { return e.path + ": " + errUnstable.Error() }
func (e *unstableError) Unwrap() error { return errUnstable }

// sameState is the change test: modification time, size and file identity (inode), which also catches a rename.
func sameState(a, b fs.FileInfo) bool {
	return a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size() && os.SameFile(a, b)
}

// column roles in the header.
const (
	colIgnored = iota
	colKey
	colAvg
	colStdev
)

type column struct {
	role int
	sig  Signal
	name string
}

// Parse reads a baseline CSV from r; file is used only in error messages.
func Parse(r io.Reader, file string) (*Baseline, error) {
	br := bufio.NewReader(r)
	// Splunk and Excel exports may start with a UTF-8 BOM, which would otherwise become part of the first header name.
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\uFEFF")) {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // checked here, to say which row and how many fields
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err == io.EOF {
		return nil, &Error{File: file, Line: 1, Msg: `empty file: want a header row with a "key" column and avg_<signal>/stdev_<signal> columns`}
	}
	if err != nil {
		return nil, csvError(file, err)
	}
	headerLine, _ := cr.FieldPos(0)
	cols, keyCol, signals, err := parseHeader(file, headerLine, header)
	if err != nil {
		return nil, err
	}

	b := &Baseline{file: file, signals: signals[:len(signals):len(signals)], index: map[string]int32{}}
	var firstLine []int // line of each row, to say where a duplicate key was first seen
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(file, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(cols) {
			return nil, &Error{File: file, Line: line, Msg: fmt.Sprintf("row has %d fields, header has %d", len(rec), len(cols))}
		}
		key := rec[keyCol]
		if strings.TrimSpace(key) == "" {
			return nil, &Error{File: file, Line: line, Column: keyCol + 1, ColumnName: "key", Msg: "empty key"}
		}
		if i, dup := b.index[key]; dup {
			return nil, &Error{File: file, Line: line, Column: keyCol + 1, ColumnName: "key",
				Msg: fmt.Sprintf("duplicate key %q, first on line %d", key, firstLine[i])}
		}
		var row [NumSignals]Stat
		var hasAvg, hasStdev [NumSignals]bool
		for i, c := range cols {
			if c.role != colAvg && c.role != colStdev {
				continue
			}
			v, present, msg := parseCell(rec[i], c.role == colStdev)
			if msg != "" {
				return nil, &Error{File: file, Line: line, Column: i + 1, ColumnName: c.name, Msg: msg}
			}
			if !present {
				continue
			}
			if c.role == colAvg {
				row[c.sig].Avg, hasAvg[c.sig] = v, true
			} else {
				row[c.sig].Stdev, hasStdev[c.sig] = v, true
			}
		}
		for s := range row {
			row[s].Scorable = hasAvg[s] && hasStdev[s] && row[s].Stdev > 0
		}
		if len(b.rows) == math.MaxInt32 {
			return nil, &Error{File: file, Line: line, Msg: "too many rows"}
		}
		b.index[strings.Clone(key)] = int32(len(b.rows)) // Clone: the key must not pin the reader's whole line buffer
		b.rows = append(b.rows, row)
		firstLine = append(firstLine, line)
	}
	return b, nil
}

// parseHeader classifies the header's columns and returns the scored signals in stdev_ column order.
func parseHeader(file string, line int, header []string) (cols []column, keyCol int, signals []Signal, err error) {
	cols = make([]column, len(header))
	keyCol = -1
	seen := map[string]int{}
	var avgCol [NumSignals]bool
	stdevCol := [NumSignals]int{} // 1-based column of stdev_S, 0 when absent
	for i, raw := range header {
		name := strings.TrimSpace(raw)
		cols[i].name = name
		if name != "" { // a trailing comma gives empty names; they are ignored, so repeating them is harmless
			if first, dup := seen[name]; dup {
				return nil, 0, nil, &Error{File: file, Line: line, Column: i + 1, ColumnName: name,
					Msg: fmt.Sprintf("duplicate header column, first at column %d", first)}
			}
			seen[name] = i + 1
		}
		var rest string
		switch {
		case name == "key":
			cols[i].role, keyCol = colKey, i
			continue
		case strings.HasPrefix(name, "avg_"):
			cols[i].role, rest = colAvg, strings.TrimPrefix(name, "avg_")
		case strings.HasPrefix(name, "stdev_"):
			cols[i].role, rest = colStdev, strings.TrimPrefix(name, "stdev_")
		default:
			continue // count, last_seen and anything else do not take part in scoring
		}
		sig, ok := ParseSignal(rest)
		if !ok {
			return nil, 0, nil, &Error{File: file, Line: line, Column: i + 1, ColumnName: name,
				Msg: fmt.Sprintf("unknown signal %q; known signals: %s", rest, knownSignals())}
		}
		cols[i].sig = sig
		if cols[i].role == colAvg {
			avgCol[sig] = true
		} else {
			stdevCol[sig] = i + 1
			signals = append(signals, sig)
		}
	}
	if keyCol < 0 {
		return nil, 0, nil, &Error{File: file, Line: line, Msg: `no "key" column`}
	}
	for _, s := range signals {
		if !avgCol[s] {
			return nil, 0, nil, &Error{File: file, Line: line, Column: stdevCol[s], ColumnName: "stdev_" + s.String(),
				Msg: fmt.Sprintf("no matching %q column", "avg_"+s.String())}
		}
	}
	if len(signals) == 0 {
		return nil, 0, nil, &Error{File: file, Line: line,
			Msg: "no scorable signal: need a stdev_<S> column and its avg_<S> column for one of " + knownSignals()}
	}
	return cols, keyCol, signals, nil
}

// parseCell returns the cell's value, whether it holds one (blank means no value), and a message when it is invalid.
func parseCell(cell string, isStdev bool) (v float64, present bool, msg string) {
	s := strings.TrimSpace(cell)
	if s == "" {
		return 0, false, ""
	}
	// Only plain decimal text, as Splunk writes it: ParseFloat alone would also take hex, underscores, "Inf" and "NaN".
	if strings.ContainsFunc(s, notDecimal) {
		return 0, false, fmt.Sprintf("%q is not a number", cell)
	}
	v, err := strconv.ParseFloat(s, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, false, fmt.Sprintf("%q is not a number (out of float64 range)", cell)
	case err != nil:
		return 0, false, fmt.Sprintf("%q is not a number", cell)
	case isStdev && v < 0:
		return 0, false, fmt.Sprintf("negative standard deviation %s", s)
	}
	return v, true, ""
}

func notDecimal(r rune) bool {
	return !(r >= '0' && r <= '9' || r == '.' || r == 'e' || r == 'E' || r == '+' || r == '-')
}

func knownSignals() string {
	names := make([]string, NumSignals)
	for s := range NumSignals {
		names[s] = s.String()
	}
	return strings.Join(names, ", ")
}

func csvError(file string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &Error{File: file, Line: pe.Line, Column: pe.Column, Msg: pe.Err.Error()}
	}
	return &Error{File: file, Msg: err.Error()} // a read error of the underlying reader
}
