package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/k8snetio/k8snetioanomaly/internal/evalreport"
)

const importRatesUsage = `Usage: k8snetio import-rates [--namespace NS] [--cluster NAME] [--node NAME]
                             [--since TIME] [--until TIME] [--out FILE] [INPUT...]

Turns a CSV of per-pod network rates into recorded metrics that replay, eval and baseline
build read: OTLP JSON, one ExportMetricsServiceRequest per line, one line per sample time.
The CSV (gzip-compressed or not) has a header naming the columns timestamp (Unix
seconds), pod, receive_bytes_per_second and transmit_bytes_per_second, in any order,
as the data in ../shared/data/ does. The INPUT files are read in the order given, as one
table; with no INPUT, or INPUT "-", standard input is read.

Each pod becomes what the kubeletstats receiver would report for it: the monotonic
cumulative sum k8s.pod.network.io (unit By, integer bytes) on one interface eth0, with
direction receive and transmit. A counter starts at 0 at the pod's first sample and adds
rate x seconds since the pod's previous sample at each later one (rounded to whole bytes
when written); its start time is the first sample's. Resource attributes: k8s.pod.name,
k8s.namespace.name, k8s.cluster.name, k8s.node.name, and k8s.pod.uid, a version 5 UUID
of "<namespace>/<pod>" (the same name gives the same UID in every run).

Options:
  --namespace NS    k8s.namespace.name of every pod (default "train-ticket")
  --cluster NAME    k8s.cluster.name (default "nezha")
  --node NAME       k8s.node.name of every pod (default "nezha-node")
  --since TIME      drop samples before TIME (RFC 3339 or Unix seconds)
  --until TIME      drop samples at or after TIME; with --since, a split into a training
                    and a detection recording
  --out FILE        write to FILE instead of stdout

Exit status: 0 done, 1 bad input or the output cannot be written, 2 usage error.
`

type importOptions struct {
	namespace, cluster, node string
	since, until             time.Time
}

func runImportRates(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const command = "import-rates"
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o importOptions
	var since, until, out string
	fs.StringVar(&o.namespace, "namespace", "train-ticket", "")
	fs.StringVar(&o.cluster, "cluster", "nezha", "")
	fs.StringVar(&o.node, "node", "nezha-node", "")
	fs.StringVar(&since, "since", "", "")
	fs.StringVar(&until, "until", "", "")
	fs.StringVar(&out, "out", "", "")
	inputs, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, importRatesUsage)
		return exitOK
	}
	if err == nil && since != "" {
		if o.since, err = evalreport.ParseTime(since); err != nil {
			err = fmt.Errorf("--since: %v", err)
		}
	}
	if err == nil && until != "" {
		if o.until, err = evalreport.ParseTime(until); err != nil {
			err = fmt.Errorf("--until: %v", err)
		}
	}
	if err == nil && (o.namespace == "" || o.cluster == "" || o.node == "") {
		err = errors.New("--namespace, --cluster and --node must not be empty")
	}
	if err != nil {
		return usageFailure(stderr, command, err)
	}
	if err := checkOut(out); err != nil {
		return failure(stderr, command, err)
	}
	sources, closeAll, err := openInputs(inputs, stdin)
	if err != nil {
		return failure(stderr, command, err)
	}
	defer closeAll()
	var samples []rateSample
	for _, src := range sources {
		s, err := readRates(src)
		if err != nil {
			return failure(stderr, command, err)
		}
		samples = append(samples, s...)
	}
	samples = slices.DeleteFunc(samples, func(s rateSample) bool {
		return (!o.since.IsZero() && s.t.Before(o.since)) || (!o.until.IsZero() && !s.t.Before(o.until))
	})

	w := stdout
	var f *os.File
	if out != "" {
		if f, err = os.Create(out); err != nil {
			return failure(stderr, command, err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	lines, pods, err := writeRecording(bw, samples, o)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && f != nil {
		err = f.Close()
	}
	if err != nil {
		return failure(stderr, command, fmt.Errorf("writing: %w", err))
	}
	fmt.Fprintf(stderr, "k8snetio %s: %s, %s, %s\n", command, plural(len(samples), "sample"), plural(pods, "pod"), plural(lines, "line"))
	return exitOK
}

// rateSample is one CSV row.
type rateSample struct {
	t      time.Time
	pod    string
	rx, tx float64 // bytes per second
	where  string  // FILE:LINE, for errors found after reading
}

// readRates reads one CSV, decompressing it first when it starts with gzip's magic bytes.
func readRates(src source) ([]rateSample, error) {
	br := bufio.NewReader(src.r)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.name, err)
		}
		defer zr.Close()
		r = zr
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", src.name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	names := []string{"timestamp", "pod", "receive_bytes_per_second", "transmit_bytes_per_second"}
	for _, n := range names {
		if _, ok := col[n]; !ok {
			return nil, fmt.Errorf("%s:1: no %q column (want %s)", src.name, n, strings.Join(names, ","))
		}
	}
	var out []rateSample
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.name, err)
		}
		line, _ := cr.FieldPos(0)
		where := fmt.Sprintf("%s:%d", src.name, line)
		ts, err := strconv.ParseFloat(rec[col["timestamp"]], 64)
		if err != nil || math.IsNaN(ts) || math.IsInf(ts, 0) {
			return nil, fmt.Errorf("%s: timestamp %q is not Unix seconds", where, rec[col["timestamp"]])
		}
		s := rateSample{t: time.Unix(0, int64(math.Round(ts*1e9))).UTC(), pod: rec[col["pod"]], where: where}
		if s.pod == "" {
			return nil, fmt.Errorf("%s: empty pod", where)
		}
		for _, c := range []struct {
			name string
			v    *float64
		}{{"receive_bytes_per_second", &s.rx}, {"transmit_bytes_per_second", &s.tx}} {
			v, err := strconv.ParseFloat(rec[col[c.name]], 64)
			if err != nil || !(v >= 0) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s: %s %q is not a non-negative number", where, c.name, rec[col[c.name]])
			}
			*c.v = v
		}
		out = append(out, s)
	}
}

// writeRecording writes one request per sample time, each pod's counters as of that sample.
func writeRecording(w io.Writer, samples []rateSample, o importOptions) (lines, pods int, err error) {
	slices.SortStableFunc(samples, func(a, b rateSample) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return strings.Compare(a.pod, b.pod)
	})
	type counter struct {
		start, last time.Time
		rx, tx      float64
	}
	counters := map[string]*counter{}
	var m pmetric.JSONMarshaler
	for i := 0; i < len(samples); {
		j := i
		for j < len(samples) && samples[j].t.Equal(samples[i].t) {
			j++
		}
		md := pmetric.NewMetrics()
		for _, s := range samples[i:j] {
			c := counters[s.pod]
			switch {
			case c == nil:
				c = &counter{start: s.t}
				counters[s.pod] = c
			case s.t.Equal(c.last):
				return 0, 0, fmt.Errorf("%s: a second sample of pod %s at %s", s.where, s.pod, s.t.Format(time.RFC3339))
			default:
				secs := s.t.Sub(c.last).Seconds()
				c.rx += s.rx * secs
				c.tx += s.tx * secs
			}
			c.last = s.t
			appendPod(md, s, c.start, c.rx, c.tx, o)
		}
		b, err := m.MarshalMetrics(md)
		if err != nil {
			return 0, 0, err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return 0, 0, err
		}
		lines++
		i = j
	}
	return lines, len(counters), nil
}

// appendPod adds the pod's resource with its two cumulative points, as kubeletstats shapes them.
func appendPod(md pmetric.Metrics, s rateSample, start time.Time, rx, tx float64, o importOptions) {
	rm := md.ResourceMetrics().AppendEmpty()
	attrs := rm.Resource().Attributes()
	attrs.PutStr("k8s.pod.uid", podUID(o.namespace, s.pod))
	attrs.PutStr("k8s.pod.name", s.pod)
	attrs.PutStr("k8s.namespace.name", o.namespace)
	attrs.PutStr("k8s.cluster.name", o.cluster)
	attrs.PutStr("k8s.node.name", o.node)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("github.com/k8snetio/k8snetioanomaly/cmd/k8snetio/import-rates")
	m := sm.Metrics().AppendEmpty()
	m.SetName("k8s.pod.network.io")
	m.SetUnit("By")
	m.SetDescription("Network bytes received and transmitted")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for _, d := range []struct {
		direction string
		v         float64
	}{{"receive", rx}, {"transmit", tx}} {
		dp := sum.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(s.t))
		dp.SetIntValue(int64(math.Round(d.v)))
		dp.Attributes().PutStr("interface", "eth0")
		dp.Attributes().PutStr("direction", d.direction)
	}
}

// uuidNamespaceURL is RFC 4122's name space for URLs, under which podUID names pods.
var uuidNamespaceURL = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// podUID is the version 5 UUID of "<namespace>/<pod>": stable across runs, distinct per pod.
func podUID(namespace, pod string) string {
	h := sha1.New()
	h.Write(uuidNamespaceURL[:])
	h.Write([]byte(namespace + "/" + pod))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
