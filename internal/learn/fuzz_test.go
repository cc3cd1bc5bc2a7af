package learn

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
)

// FuzzReadCSV: ReadCSV never panics; a table it accepts writes back a file that it and the
// component (baseline.Parse) both read; a refusal is a short *baseline.Error naming the file.
// The seed corpus is in testdata/fuzz/FuzzReadCSV.
func FuzzReadCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "fuzz.csv"
		tab, err := ReadCSV(bytes.NewReader(data), file)
		if err != nil {
			var e *baseline.Error
			if !errors.As(err, &e) {
				t.Errorf("error %v is a %T, not a *baseline.Error", err, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, file+":") || len(msg) > 1500 {
				t.Errorf("error of %d bytes %.200q, want a short one naming the file", len(msg), msg)
			}
			return
		}
		var out bytes.Buffer
		if err := tab.WriteCSV(&out); err != nil {
			t.Fatal(err)
		}
		b, err := baseline.Parse(bytes.NewReader(out.Bytes()), "learned.csv")
		if err != nil {
			t.Fatalf("the component cannot read what learn wrote: %v\n%q", err, out.String())
		}
		if b.Len() != len(tab.Rows) {
			t.Errorf("the component read %d keys of %d", b.Len(), len(tab.Rows))
		}
		again, err := ReadCSV(bytes.NewReader(out.Bytes()), "learned.csv")
		if err != nil {
			t.Fatalf("learn cannot read what it wrote: %v\n%q", err, out.String())
		}
		if len(again.Rows) != len(tab.Rows) {
			t.Errorf("read back %d keys of %d", len(again.Rows), len(tab.Rows))
		}
	})
}
