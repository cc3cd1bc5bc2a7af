package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"unicode"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Recorded metrics, as the collector's file exporter writes them: OTLP JSON, one
// ExportMetricsServiceRequest per line. replay and baseline build read them the same way.

// maxReported bounds the bad lines listed, so a wrong file (say, a logs recording) is not echoed whole.
const maxReported = 10

// source is one input stream and the name its lines are reported under.
type source struct {
	name string
	r    io.Reader
}

// openInputs opens every input before any is read, so a typo in the last name fails at once.
func openInputs(names []string, stdin io.Reader) ([]source, func(), error) {
	if len(names) == 0 {
		names = []string{"-"}
	}
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	sources := make([]source, 0, len(names))
	for _, name := range names {
		if name == "-" {
			sources = append(sources, source{name: "<stdin>", r: stdin})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("input: %w", err)
		}
		files = append(files, f)
		sources = append(sources, source{name: name, r: f})
	}
	return sources, closeAll, nil
}

// metricsInput feeds the good lines of the sources to consume and reports bad ones on stderr as
// FILE:LINE. After the first bad line nothing more is consumed: the run's result is void, and the
// rest is only checked, to report more of them.
type metricsInput struct {
	stderr  io.Writer
	consume func(pmetric.Metrics)

	lines  int64 // non-blank lines, each one request
	points int64 // data points of every metric
	bad    int
	// truncated says reading stopped at maxReported bad lines, so bad is a lower bound.
	truncated bool
}

// readAll reads the sources in order, as one stream.
func (in *metricsInput) readAll(sources []source) {
	for _, src := range sources {
		if !in.read(src) {
			return
		}
	}
}

// read reads one source line by line; it returns false when reading should stop.
func (in *metricsInput) read(src source) bool {
	unmarshaler := &pmetric.JSONUnmarshaler{}
	br := bufio.NewReaderSize(src.r, 1<<20)
	for lineNo := 1; ; lineNo++ {
		// ReadBytes, not a Scanner: a file exporter line holds a whole batch and has no size bound.
		line, readErr := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			md, err := parseLine(unmarshaler, line)
			if err != nil {
				if in.bad == maxReported {
					in.truncated = true
					fmt.Fprintf(in.stderr, "%s:%d: more bad lines; stopped reading\n", src.name, lineNo)
					return false
				}
				in.bad++
				fmt.Fprintf(in.stderr, "%s:%d: %v\n", src.name, lineNo, err)
			} else if in.bad == 0 {
				in.lines++
				in.points += int64(md.DataPointCount())
				in.consume(md)
			}
		}
		if readErr == io.EOF {
			return true
		}
		if readErr != nil {
			in.bad++
			fmt.Fprintf(in.stderr, "%s:%d: %v\n", src.name, lineNo, readErr)
			return false
		}
	}
}

// badLines says how many bad lines there were, as a phrase; "" when there were none.
func (in *metricsInput) badLines() string {
	if in.bad == 0 {
		return ""
	}
	more := ""
	if in.truncated {
		more = "more than "
	}
	return more + plural(in.bad, "bad input line")
}

// summary is what was read, for the commands' closing line on stderr.
func (in *metricsInput) summary() string {
	return plural(in.lines, "line") + ", " + plural(in.points, "data point")
}

// parseLine decodes one file exporter line; the messages say what is wrong in terms of the file.
func parseLine(u *pmetric.JSONUnmarshaler, line []byte) (pmetric.Metrics, error) {
	line = bytes.TrimRight(line, "\r\n") // so that a truncated line reads as one, not as a newline inside a string
	// encoding/json first: pdata's decoder accepts trailing garbage and reports a truncated line as a NUL byte.
	if !json.Valid(line) {
		var v json.RawMessage
		err := json.Unmarshal(line, &v)
		if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
			return pmetric.Metrics{}, fmt.Errorf("not valid JSON: %v (at byte %d)", se, se.Offset)
		}
		return pmetric.Metrics{}, fmt.Errorf("not valid JSON: %v", err)
	}
	md, err := u.UnmarshalMetrics(line)
	if err != nil {
		return pmetric.Metrics{}, fmt.Errorf("not OTLP metrics JSON: %s", printable(err.Error()))
	}
	if md.ResourceMetrics().Len() == 0 {
		// pdata ignores unknown fields, so a logs or traces recording would otherwise read as empty metrics.
		var top map[string]json.RawMessage
		if json.Unmarshal(line, &top) != nil || top == nil {
			return pmetric.Metrics{}, errors.New("not OTLP metrics JSON: want an object with resourceMetrics")
		}
		delete(top, "resourceMetrics")
		if len(top) > 0 {
			keys := slices.Sorted(maps.Keys(top))
			return pmetric.Metrics{}, fmt.Errorf("not OTLP metrics JSON: no resourceMetrics, but %s (a recording of another signal?)",
				strings.Join(keys, ", "))
		}
	}
	return md, nil
}

// printable escapes control characters, which pdata's decoder quotes raw from the input.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if unicode.IsControl(c) {
			fmt.Fprintf(&b, "\\x%02x", c)
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}
