package e2e

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// csvTable is a baseline file: its header and its rows by key.
type csvTable struct {
	header []string
	rows   [][]string
}

func readCSV(path string) (csvTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return csvTable{}, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return csvTable{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 {
		return csvTable{}, fmt.Errorf("%s: empty", path)
	}
	return csvTable{header: recs[0], rows: recs[1:]}, nil
}

func mustReadCSV(t *testing.T, path string) csvTable {
	t.Helper()
	tab, err := readCSV(path)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// col is the index of a header column, -1 when absent.
func (c csvTable) col(name string) int {
	for i, h := range c.header {
		if h == name {
			return i
		}
	}
	return -1
}

// cell is the value in the row of key; ok is false when the key or column is missing.
func (c csvTable) cell(key, column string) (string, bool) {
	i := c.col(column)
	if i < 0 {
		return "", false
	}
	for _, r := range c.rows {
		if r[0] == key {
			return r[i], true
		}
	}
	return "", false
}

// number is cell parsed as a float; a test's own baseline is expected to hold it.
func (c csvTable) number(t *testing.T, key, column string) float64 {
	t.Helper()
	s, ok := c.cell(key, column)
	if !ok {
		t.Fatalf("baseline has no %s for %s", column, key)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("baseline %s of %s: %v", column, key, err)
	}
	return v
}

// with returns a copy with one cell replaced; the line of that row in the file is line.
func (c csvTable) with(t *testing.T, key, column, value string) (out csvTable, line int) {
	t.Helper()
	i := c.col(column)
	if i < 0 {
		t.Fatalf("baseline has no column %s", column)
	}
	out = csvTable{header: c.header}
	for n, r := range c.rows {
		r = append([]string(nil), r...)
		if r[0] == key {
			r[i], line = value, n+2 // +1 for the header, +1 for 1-based lines
		}
		out.rows = append(out.rows, r)
	}
	if line == 0 {
		t.Fatalf("baseline has no key %s", key)
	}
	return out, line
}

func (c csvTable) bytes(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(append([][]string{c.header}, c.rows...)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeFileAtomic replaces path by a rename, the way a baseline is meant to be updated in place.
func writeFileAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		t.Fatal(err)
	}
}
