// Package baseline reads the per-service baseline that pod-spans are scored against:
// the CSV that `| inputlookup k8s_container_network_io_ratio_baseline` exports from Splunk.
package baseline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/k8snetio/k8snetioanomaly/internal/profile"
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
	usual   []profile.Usual // the recommended profile's figures, by row; nil when the file has no profile columns
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
		b.WriteString("column " + Quote(e.ColumnName) + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Signals returns the scored signals in stdev_ column order (the search's foreach stdev_*). The
// slice is shared, to keep the hot path allocation-free: it must not be modified.
func (b *Baseline) Signals() []Signal { return b.signals }

// Lookup returns the key's stats, indexed by Signal. The pointer is into the shared table and must not be modified.
func (b *Baseline) Lookup(key string) (stats *[NumSignals]Stat, ok bool) {
	return b.RowStats(b.Row(key))
}

// Row returns the key's row, or -1: a caller that scores one key often keeps it, saving the
// lookup, for as long as it holds the same *Baseline.
func (b *Baseline) Row(key string) int {
	if b == nil {
		return -1
	}
	if i, ok := b.index[key]; ok {
		return int(i)
	}
	return -1
}

// RowStats is Lookup by row.
func (b *Baseline) RowStats(row int) (stats *[NumSignals]Stat, ok bool) {
	if b == nil || row < 0 || row >= len(b.rows) {
		return nil, false
	}
	return &b.rows[row], true
}

// Len returns the number of keys.
func (b *Baseline) Len() int { return len(b.rows) }

// File returns the name the baseline was read from.
func (b *Baseline) File() string { return b.file }

// DefaultMaxBytes is the largest baseline file read unless MaxBytes says otherwise (256 MiB).
const DefaultMaxBytes = 256 << 20

// ReadFile reads a baseline-like file (a regular file of at most maxBytes, stable while read), for
// the tools that parse it otherwise, such as the learned-table reader.
func ReadFile(path string, maxBytes int64) ([]byte, error) {
	data, _, err := readStable(path, maxBytes)
	return data, err
}

// load also returns the file state that was actually read, so the Reloader can remember it.
func load(path string, maxBytes int64) (*Baseline, fs.FileInfo, error) {
	data, fi, err := readStable(path, maxBytes)
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
func readStable(path string, maxBytes int64) ([]byte, fs.FileInfo, error) {
	var err error
	for range 3 {
		var data []byte
		var fi fs.FileInfo
		data, fi, err = readOnce(path, maxBytes)
		if !errors.Is(err, errUnstable) {
			return data, fi, err
		}
	}
	return nil, nil, err
}

// readOnce reads a regular file of at most maxBytes. Anything else is refused before it is read:
// a FIFO would block the reader forever, /dev/zero never ends.
func readOnce(path string, maxBytes int64) ([]byte, fs.FileInfo, error) {
	fi, err := os.Stat(path) // follows symlinks, and never blocks on a FIFO or opens a device
	if err != nil {
		return nil, nil, err
	}
	if err := checkFile(path, fi, maxBytes); err != nil {
		return nil, nil, err
	}
	if testHookBeforeOpen != nil {
		testHookBeforeOpen(path)
	}
	// O_NONBLOCK: the path may have become a FIFO since the Stat, and opening one without it
	// waits for a writer; the Stat of the open file below refuses it then.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if err := checkFile(path, before, maxBytes); err != nil {
		return nil, nil, err
	}
	if testHookBeforeRead != nil {
		testHookBeforeRead(path)
	}
	// One byte more than allowed tells a file that grew while it was read from one that did not.
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > maxBytes {
		return nil, nil, &Error{File: path, Msg: "grew past baseline.max_bytes (" + byteSize(maxBytes) + ") while being read"}
	}
	if testHookAfterRead != nil {
		testHookAfterRead(path)
	}
	after, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	// The length test also catches a rewrite within one mtime tick on filesystems with coarse timestamps.
	if !sameState(before, after) || int64(len(data)) != after.Size() {
		return nil, nil, &unstableError{path}
	}
	return data, after, nil
}

// checkFile refuses what is not a regular file of at most maxBytes.
func checkFile(path string, fi fs.FileInfo, maxBytes int64) error {
	if !fi.Mode().IsRegular() {
		return &Error{File: path, Msg: "not a regular file (" + fileKind(fi.Mode()) + ")"}
	}
	if fi.Size() > maxBytes {
		return &Error{File: path, Msg: "is " + byteSize(fi.Size()) + ", more than baseline.max_bytes (" + byteSize(maxBytes) + ")"}
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeDir != 0:
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return m.Type().String()
}

// byteSize says n in MiB when that is exact or large, else in bytes.
func byteSize(n int64) string {
	const mib = 1 << 20
	switch {
	case n > 0 && n%mib == 0:
		return strconv.FormatInt(n/mib, 10) + " MiB"
	case n >= mib:
		return strconv.FormatFloat(float64(n)/mib, 'f', 1, 64) + " MiB (" + strconv.FormatInt(n, 10) + " bytes)"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// The test hooks let tests change the file while it is being read.
var testHookBeforeOpen, testHookBeforeRead, testHookAfterRead func(path string)

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
	colProfile // one of the recommended profile's figures (ParseProfileCell)
)

type column struct {
	role int
	sig  Signal
	name string
}

// Parse reads a baseline CSV from r; file is used only in error messages. A header-only file
// parses to a baseline with no keys; whether that may be used is the Reloader's decision.
func Parse(r io.Reader, file string) (*Baseline, error) {
	cr := NewReader(r, file)
	header, err := cr.Header()
	if err == io.EOF {
		return nil, &Error{File: file, Line: 1, Msg: `empty file: want a header row with a "key" column and avg_<signal>/stdev_<signal> columns`}
	}
	if err != nil {
		return nil, err
	}
	cols, keyCol, signals, err := parseHeader(file, cr.Line(0), header)
	if err != nil {
		return nil, err
	}

	b := &Baseline{file: file, signals: signals[:len(signals):len(signals)], index: map[string]int32{}}
	for _, c := range cols {
		if c.role == colProfile {
			b.usual = []profile.Usual{}
			break
		}
	}
	var firstLine []int // line of each row, to say where a duplicate key was first seen
	for {
		rec, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		fieldError := func(i int, msg string) error {
			e := cr.ErrorAt(i, msg)
			e.ColumnName = cols[i].name
			return e
		}
		key := rec[keyCol]
		if msg := CheckKey(key); msg != "" {
			return nil, fieldError(keyCol, msg)
		}
		if i, dup := b.index[key]; dup {
			return nil, fieldError(keyCol, fmt.Sprintf("duplicate key %s, first on line %d", Quote(key), firstLine[i]))
		}
		var row [NumSignals]Stat
		var hasAvg, hasStdev [NumSignals]bool
		for i, c := range cols {
			if c.role != colAvg && c.role != colStdev {
				continue
			}
			v, present, msg := ParseNumber(rec[i], c.role == colStdev)
			if msg != "" {
				return nil, fieldError(i, msg)
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
		u := emptyUsual()
		if b.usual != nil {
			for i, c := range cols {
				if c.role != colProfile {
					continue
				}
				v, present, msg := ParseProfileCell(c.name, rec[i])
				if msg != "" {
					return nil, fieldError(i, msg)
				}
				if present {
					setProfile(&u, c.name, v)
				}
			}
		}
		line := cr.Line(0)
		if len(b.rows) == math.MaxInt32 {
			return nil, &Error{File: file, Line: line, Msg: "too many rows"}
		}
		b.index[strings.Clone(key)] = int32(len(b.rows)) // Clone: the key must not pin the reader's whole line buffer
		b.rows = append(b.rows, row)
		if b.usual != nil {
			b.usual = append(b.usual, u)
		}
		firstLine = append(firstLine, cr.Line(keyCol))
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
	for i, name := range header {
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
		case slices.Contains(profileFigures, name) || name == ColPodSpans:
			cols[i].role = colProfile
			continue
		default:
			continue // count, last_seen, the profile's histograms and anything else do not take part in scoring
		}
		sig, ok := ParseSignal(rest)
		if !ok {
			return nil, 0, nil, &Error{File: file, Line: line, Column: i + 1, ColumnName: name,
				Msg: fmt.Sprintf("unknown signal %s; known signals: %s", Quote(rest), knownSignals())}
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
	if err := checkProfileHeader(file, line, seen); err != nil {
		return nil, 0, nil, err
	}
	// The recommended profile's figures are scorable on their own (a file with only them scores
	// nothing in parity, which reads it as a key list).
	if _, profile := seen[ColUsualInbound]; len(signals) == 0 && !profile {
		return nil, 0, nil, &Error{File: file, Line: line,
			Msg: "no scorable signal: need a stdev_<S> column and its avg_<S> column for one of " + knownSignals() +
				", or the recommended profile's columns"}
	}
	return cols, keyCol, signals, nil
}

func knownSignals() string {
	names := make([]string, NumSignals)
	for s := range NumSignals {
		names[s] = s.String()
	}
	return strings.Join(names, ", ")
}
