package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
)

const eventsUsage = `Usage: k8snetio events FILE

Prints the k8s_netio_anomaly events in FILE for a person to read. FILE holds logs as the
collector's file exporter writes them (OTLP JSON, one ExportLogsServiceRequest per line):
typically the output of a logs pipeline fed by the splunk_hec receiver, so that it shows what
a HEC endpoint received; events written straight from the component's logs pipeline read the
same. Log records that are not anomaly events are skipped.

FILE "-" reads standard input and prints each event as soon as its line is whole. To follow a
file the collector keeps writing, rotates or truncates (or has not created yet):
  tail -F -n +1 FILE | k8snetio events -

Each event is a header line
  TIME  CLUSTER/HOST  NAMESPACE/POD  service=S  count=N  window=START-END (LENGTH)  sourcetype=T  index=I
(TIME is the record's timestamp, the window end; times in UTC; index "-" when none was set),
then the distinct anomaly texts, indented, and the highest z-score of each signal.

A line that is not OTLP logs JSON is reported on stderr as FILE:LINE and skipped. A summary
goes to stderr at the end.

Exit status: 0 done, 1 a bad line or an unreadable file, 2 usage error.
`

func runEvents(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed below, with a pointer to -h
	inputs, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, eventsUsage)
		return exitOK
	}
	if err == nil && len(inputs) != 1 {
		err = errors.New("want exactly one FILE")
	}
	if err != nil {
		fmt.Fprintf(stderr, "k8snetio events: %v\nRun 'k8snetio events -h' for usage.\n", err)
		return exitUsage
	}
	return printEvents(inputs[0], stdin, stdout, stderr)
}

// printEvents reads FILE, or stdin for "-", to its end and prints the events.
func printEvents(path string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := &eventPrinter{name: path, stdout: stdout, stderr: stderr}
	var err error
	if path == "-" {
		p.name = "<stdin>"
		err = p.readAll(stdin)
	} else {
		var f *os.File
		if f, err = os.Open(path); err == nil {
			err = p.readAll(f)
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "k8snetio events: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "k8snetio events: %s, %s skipped%s\n",
		plural(p.events, "event"), plural(p.others, "other log record"), p.badSummary())
	if p.bad > 0 {
		return exitFailure
	}
	return exitOK
}

// eventPrinter turns file exporter lines into readable events.
type eventPrinter struct {
	name           string
	stdout, stderr io.Writer
	lineNo         int
	events, others int
	bad            int
}

func (p *eventPrinter) badSummary() string {
	if p.bad == 0 {
		return ""
	}
	return ", " + plural(p.bad, "bad line")
}

// readAll handles every line of r as soon as it is whole, the last one also without a newline.
func (p *eventPrinter) readAll(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		// ReadBytes, not a Scanner: a file exporter line holds a whole request and has no size bound.
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			p.line(line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// line handles one file exporter line: a logs request whose anomaly events are printed.
func (p *eventPrinter) line(line []byte) {
	p.lineNo++
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	ld, err := parseLogsLine(line)
	if err != nil {
		p.bad++
		if p.bad <= maxReported {
			fmt.Fprintf(p.stderr, "%s:%d: %v\n", p.name, p.lineNo, err)
		}
		return
	}
	var b strings.Builder
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if writeEvent(&b, rl.Resource().Attributes(), lr) {
					p.events++
				} else {
					p.others++
				}
			}
		}
	}
	// One write per line, so that whoever reads the pipe sees each event whole.
	io.WriteString(p.stdout, b.String())
}

// parseLogsLine decodes one file exporter line of logs; the messages say what is wrong in terms of the file.
func parseLogsLine(line []byte) (plog.Logs, error) {
	line = bytes.TrimRight(line, "\r\n")
	// encoding/json first: pdata's decoder accepts trailing garbage.
	if !json.Valid(line) {
		var v json.RawMessage
		err := json.Unmarshal(line, &v)
		if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
			return plog.Logs{}, fmt.Errorf("not valid JSON: %v (at byte %d)", se, se.Offset)
		}
		return plog.Logs{}, fmt.Errorf("not valid JSON: %v", err)
	}
	u := &plog.JSONUnmarshaler{}
	ld, err := u.UnmarshalLogs(line)
	if err != nil {
		return plog.Logs{}, fmt.Errorf("not OTLP logs JSON: %s", printable(err.Error()))
	}
	if ld.ResourceLogs().Len() == 0 {
		// pdata ignores unknown fields, so a metrics recording would otherwise read as empty logs.
		var top map[string]json.RawMessage
		if json.Unmarshal(line, &top) != nil || top == nil {
			return plog.Logs{}, errors.New("not OTLP logs JSON: want an object with resourceLogs")
		}
		delete(top, "resourceLogs")
		if len(top) > 0 {
			return plog.Logs{}, fmt.Errorf("not OTLP logs JSON: no resourceLogs, but %s (a recording of another signal?)",
				strings.Join(slices.Sorted(maps.Keys(top)), ", "))
		}
	}
	return ld, nil
}

// writeEvent writes lr as a readable event and reports whether it is one. An event is a record whose
// body is a map holding the pod and the anomaly texts, as the component writes it.
func writeEvent(b *strings.Builder, resource pcommon.Map, lr plog.LogRecord) bool {
	if lr.Body().Type() != pcommon.ValueTypeMap {
		return false
	}
	body := lr.Body().Map()
	anomalies, ok := body.Get("anomalies")
	if !ok || anomalies.Type() != pcommon.ValueTypeSlice {
		return false
	}
	if _, ok := body.Get("k8s.pod.name"); !ok {
		return false
	}
	// HEC metadata: a record attribute as the component writes it, or a resource attribute as the
	// splunk_hec receiver passes it on.
	meta := func(key string) string {
		if v, ok := lr.Attributes().Get(key); ok {
			return v.AsString()
		}
		if v, ok := resource.Get(key); ok {
			return v.AsString()
		}
		return ""
	}
	str := func(key string) string {
		if v, ok := body.Get(key); ok {
			return v.AsString()
		}
		return ""
	}
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}

	host := str("host")
	if host == "" {
		host = meta("host.name")
	}
	start, hasStart := unixSeconds(body, "window_start")
	end, hasEnd := unixSeconds(body, "window_end")
	at := lr.Timestamp().AsTime()
	if lr.Timestamp() == 0 && hasEnd {
		at = end
	}
	window := "-"
	if hasStart && hasEnd {
		window = fmt.Sprintf("%s-%s (%s)", start.UTC().Format(time.TimeOnly), end.UTC().Format(time.TimeOnly), shortDuration(end.Sub(start)))
	}
	count := "-"
	if v, ok := body.Get("count"); ok {
		if f, ok := number(v); ok {
			count = baseline.FormatNumber(f)
		}
	}

	fmt.Fprintf(b, "%s  %s/%s  %s/%s  service=%s  count=%s  window=%s  sourcetype=%s  index=%s\n",
		at.UTC().Format(time.RFC3339), orDash(str("k8s.cluster.name")), orDash(host),
		orDash(str("k8s.namespace.name")), orDash(str("k8s.pod.name")), orDash(str("k8s.service")),
		count, window, orDash(meta("com.splunk.sourcetype")), orDash(meta("com.splunk.index")))
	for _, a := range anomalies.Slice().All() {
		fmt.Fprintf(b, "    %s\n", a.AsString())
	}
	if z, ok := body.Get("max_zscore"); ok && z.Type() == pcommon.ValueTypeMap && z.Map().Len() > 0 {
		var parts []string
		// Range keeps the component's order of the signals.
		z.Map().Range(func(k string, v pcommon.Value) bool {
			if f, ok := number(v); ok {
				parts = append(parts, k+"="+baseline.FormatNumber(math.Round(f*100)/100)) // as the texts round z
			}
			return true
		})
		fmt.Fprintf(b, "    max z-score: %s\n", strings.Join(parts, "  "))
	}
	b.WriteString("\n")
	return true
}

// number reads an Int or a Double: the component writes ints, a trip through HEC JSON makes them doubles.
func number(v pcommon.Value) (float64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return float64(v.Int()), true
	case pcommon.ValueTypeDouble:
		return v.Double(), true
	}
	return 0, false
}

func unixSeconds(body pcommon.Map, key string) (time.Time, bool) {
	v, ok := body.Get(key)
	if !ok {
		return time.Time{}, false
	}
	f, ok := number(v)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, int64(f*1e9)), true
}

// shortDuration drops the zero units time.Duration.String leaves: 1m, not 1m0s; 1h, not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
