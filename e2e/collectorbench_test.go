package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
)

// The whole-collector benchmark's estate: 10 000 pods on 100 nodes, 1 % of them anomalous.
const (
	benchCluster     = "bench"
	benchNodes       = 100
	benchPodsPerNode = 100
	benchPods        = benchNodes * benchPodsPerNode
	// benchWarmup scrapes come before the measured ones: every pod exists, spans close, and the
	// collectors' heaps have grown to their steady size.
	benchWarmup = 6
	// benchBlock requests (a tenth of a scrape, some 30 ms of work) go to one gateway before the
	// next gets them: short against bursts of other load on the machine, long enough that each
	// gateway works on warm caches, as a gateway of its own would, rather than on the others'.
	benchBlock = 10
)

const (
	// withoutComponent is a gateway with no k8s_netio_anomaly in it: the benchmark's reference.
	withoutComponent wiring = "without"
	// secondNop is the reference with a second nop exporter beside the first: what the collector
	// itself spends on one more consumer of every batch (the fan-out, and the item count it keeps
	// per component), which the connector wiring pays too.
	secondNop wiring = "second-nop"
	// benchSink is the collector the gateways export to in out=otlp: otlp -> nop, not measured.
	benchSink wiring = "sink"
)

// benchGateway is a built collector receiving OTLP over loopback gRPC, configured as a gateway
// with or without the component, and the client that feeds it.
type benchGateway struct {
	wiring wiring
	c      *collector
	conn   *grpc.ClientConn
	addr   string // its OTLP gRPC endpoint

	before       procUsage // at the start of the measured scrapes
	stderrBefore int       // how much it had logged then
}

// benchOutput is where a benchmark gateway's metrics pipeline ends.
type benchOutput struct {
	name string // "nop", or "otlp": the OTLP exporter to sink
	sink string // the sink's OTLP gRPC address when name is "otlp"
}

// startBenchGateway starts a collector whose metrics pipeline is otlp -> out, with the component
// added as w says, in its default configuration but for the baseline.
func startBenchGateway(b *testing.B, bins binaries, dir string, w wiring, out benchOutput, baseline string) *benchGateway {
	b.Helper()
	dir = filepath.Join(dir, string(w))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	otlpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(b))
	telemetryPort := freePort(b)
	c := &collector{bins: bins, configPath: filepath.Join(dir, "collector.yaml"),
		telemetryURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", telemetryPort)}

	const comp = "k8s_netio_anomaly"
	component := map[string]any{"baseline": map[string]any{"path": baseline}}
	receivers := map[string]any{"otlp": map[string]any{"protocols": map[string]any{"grpc": map[string]any{"endpoint": otlpAddr}}}}
	exporters := map[string]any{"nop": map[string]any{}}
	if out.name == "otlp" {
		// The exporter's defaults (gzip) but no sending queue: the export is done within the
		// request, before the gateway answers, so that none is left running when the measured
		// scrapes end.
		exporters["otlp"] = map[string]any{"endpoint": out.sink, "tls": map[string]any{"insecure": true},
			"sending_queue": map[string]any{"enabled": false}}
	}
	metrics := map[string]any{"receivers": []string{"otlp"}, "exporters": []string{out.name}}
	pipelines := map[string]any{"metrics": metrics}
	cfg := map[string]any{"receivers": receivers, "exporters": exporters}
	switch w {
	case withoutComponent, benchSink:
	case secondNop:
		exporters["nop/second"] = map[string]any{}
		metrics["exporters"] = []string{out.name, "nop/second"}
	case processorWiring:
		cfg["processors"] = map[string]any{comp: component}
		receivers["nop"] = map[string]any{}
		metrics["processors"] = []string{comp}
		pipelines["logs/anomalies"] = map[string]any{"receivers": []string{"nop"}, "processors": []string{comp}, "exporters": []string{"nop"}}
	case connectorWiring:
		cfg["connectors"] = map[string]any{comp: component}
		metrics["exporters"] = []string{out.name, comp}
		pipelines["logs/anomalies"] = map[string]any{"receivers": []string{comp}, "exporters": []string{"nop"}}
	default:
		b.Fatalf("unknown wiring %q", w)
	}
	cfg["service"] = map[string]any{
		"pipelines": pipelines,
		"telemetry": map[string]any{"metrics": map[string]any{"readers": []any{map[string]any{
			"pull": map[string]any{"exporter": map[string]any{"prometheus": map[string]any{"host": "127.0.0.1", "port": telemetryPort}}},
		}}}},
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(c.configPath, data, 0o644); err != nil {
		b.Fatal(err)
	}
	c.start(b)
	conn, err := grpc.NewClient(otlpAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return &benchGateway{wiring: w, c: c, conn: conn, addr: otlpAddr}
}

const otlpMetricsExport = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

// export sends one marshalled ExportMetricsServiceRequest. The OTLP receiver answers once the
// pipeline has consumed the batch (nop has no queue), so the collector's work for it is done then.
func (g *benchGateway) export(req []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var resp []byte
	if err := g.conn.Invoke(ctx, otlpMetricsExport, req, &resp, grpc.ForceCodecV2(rawProto{})); err != nil {
		return g.c.orDead(fmt.Errorf("export to the %s gateway: %w", g.wiring, err))
	}
	r := pmetricotlp.NewExportResponse()
	if err := r.UnmarshalProto(resp); err != nil {
		return err
	}
	if n := r.PartialSuccess().RejectedDataPoints(); n != 0 {
		return fmt.Errorf("the %s gateway rejected %d points: %s", g.wiring, n, r.PartialSuccess().ErrorMessage())
	}
	return nil
}

// rawProto is a gRPC codec for messages that are already protobuf bytes: the request is marshalled
// once and the same bytes go to every gateway.
type rawProto struct{}

func (rawProto) Name() string { return "proto" }

func (rawProto) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawProto marshals []byte, not %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawProto) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawProto unmarshals into *[]byte, not %T", v)
	}
	*p = data.Materialize()
	return nil
}

// BenchmarkCollector is the whole collector's cost with and without the component (issue 9,
// item 6): four built collectors, each a gateway `otlp -> out` (the reference), the same with a
// second nop exporter (the collector's own cost of one more consumer), with the processor in the
// metrics pipeline, and with the connector beside out, are fed the same OTLP requests over
// loopback gRPC: what agents running kubeletstats with its default metric groups send
// (kubeletEstate: 26 points per pod, 2 of them k8s.pod.network.io), for 10 000 pods on 100 nodes,
// one request per node and scrape, 10 s of data time apart. One op is one scrape of the estate.
// Each block of benchBlock requests goes to every gateway in turn, in an order that rotates from
// block to block, so that other load on the machine falls on all of them alike and none always
// runs right after the sender. The component runs its default configuration (hourly windows; no
// window closes in the run, which starts 5 minutes into an hour).
//
// The Go runtime's defaults make a small heap expensive: with GOGC=100 a collector collects each
// time its heap doubles, so the reference, whose live heap is a few MB, collects more than twice
// as often as a collector holding the component's state, and ends up using more CPU than the
// gateways with the component. gc=default runs the collectors as they come; gc=memlimit runs all four with the same
// collection schedule (GOGC=off, GOMEMLIMIT=512MiB: a collection when the heap reaches the limit),
// which leaves the work the component adds.
//
// out=nop ends each metrics pipeline in nop: the gateway does nothing with the metrics but take
// them in, the strictest reference. out=otlp ends it in the OTLP exporter (its defaults, gzip,
// but without a sending queue, so that each export is done before the gateway answers) sending to
// a sink collector on loopback, whose CPU is not counted, as a gateway that passes the metrics on
// does; the sink must take in every point of every gateway.
//
// Reported per gateway, from /proc (so the sender's CPU is not counted): the collector process's
// CPU time per data point and per pod-scrape turned into pods per core at a 10 s scrape, its
// resident memory after the run, from its gctrace the share of its CPU spent collecting, its
// collections per scrape and its mean live heap, and, for the other three, what they add to the
// reference: CPU (%), resident and live memory (MB, for these 10 000 pods). ns/op is wall time,
// sender included.
// Run it with `make bench-collector`.
func BenchmarkCollector(b *testing.B) {
	bins := requireBinaries(b)
	for _, regime := range []struct {
		name string
		env  map[string]string
	}{
		{"gc=default", nil},
		{"gc=memlimit", map[string]string{"GOGC": "off", "GOMEMLIMIT": "512MiB"}},
	} {
		for _, out := range []string{"nop", "otlp"} {
			b.Run(regime.name+"/out="+out, func(b *testing.B) {
				// The collectors inherit these; the running benchmark's own runtime has read its settings.
				b.Setenv("GODEBUG", strings.TrimPrefix(os.Getenv("GODEBUG")+",gctrace=1", ","))
				for k, v := range regime.env {
					b.Setenv(k, v)
				}
				benchCollector(b, bins, out)
			})
		}
	}
}

func benchCollector(b *testing.B, bins binaries, outName string) {
	dir := b.TempDir()
	baseline := filepath.Join(dir, "baseline.csv")
	if err := os.WriteFile(baseline, []byte(estateBaseline(benchCluster)), 0o644); err != nil {
		b.Fatal(err)
	}
	out := benchOutput{name: outName}
	var sink *benchGateway
	if outName == "otlp" {
		sink = startBenchGateway(b, bins, dir, benchSink, benchOutput{name: "nop"}, baseline)
		out.sink = sink.addr
	}
	var gateways []*benchGateway
	for _, w := range []wiring{withoutComponent, secondNop, processorWiring, connectorWiring} {
		gateways = append(gateways, startBenchGateway(b, bins, dir, w, out, baseline))
	}
	// Data time starts 5 minutes into an hour that has passed: 330 scrapes before a window closes.
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Hour).Add(5 * time.Minute)
	est := newKubeletEstate(benchCluster, benchNodes, benchPodsPerNode, 100, start)
	var reqs [][]byte
	points, scrapes := 0, 0
	send := func() {
		reqs = reqs[:0]
		for _, md := range est.next() {
			req, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
			if err != nil {
				b.Fatal(err)
			}
			reqs = append(reqs, req)
			points += md.DataPointCount()
		}
		for blk := 0; blk*benchBlock < len(reqs); blk++ {
			for k := range gateways {
				g := gateways[(scrapes+blk+k)%len(gateways)]
				for _, req := range reqs[blk*benchBlock : min(len(reqs), (blk+1)*benchBlock)] {
					if err := g.export(req); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		scrapes++
	}
	for i := 0; i < benchWarmup; i++ {
		send()
	}
	points0, scrapes0 := points, scrapes
	for _, g := range gateways {
		g.before = mustProcUsage(b, g)
		g.stderrBefore = len(g.c.proc.stderr.String())
	}
	for b.Loop() {
		send()
	}
	// The garbage of the last requests is collected in the background: let that end.
	time.Sleep(time.Second)
	after := make([]procUsage, len(gateways))
	for i, g := range gateways {
		after[i] = mustProcUsage(b, g)
	}
	if sink != nil {
		checkBenchTelemetry(b, sink, len(gateways)*points, scrapes)
	}
	gcs := make([]gcTrace, len(gateways))
	for i, g := range gateways {
		checkBenchTelemetry(b, g, points, scrapes)
		gcs[i] = parseGCTrace(g.c.proc.stderr.String()[g.stderrBefore:])
		if gcs[i].cycles == 0 {
			b.Fatalf("the %s gateway printed no gctrace line: GODEBUG=gctrace=1 did not reach it", g.wiring)
		}
	}

	measuredPoints, podScrapes := float64(points-points0), float64((scrapes-scrapes0)*benchPods)
	ref := after[0].cpu - gateways[0].before.cpu
	for i, g := range gateways {
		cpu := after[i].cpu - g.before.cpu
		name := string(g.wiring)
		b.ReportMetric(float64(cpu.Nanoseconds())/measuredPoints, "cpu-ns/point:"+name)
		b.ReportMetric(podScrapes/cpu.Seconds()*estateScrape.Seconds(), "pods/core@10s:"+name)
		b.ReportMetric(float64(after[i].rss)/(1<<20), "RSS-MB:"+name)
		b.ReportMetric(100*gcs[i].cpu.Seconds()/cpu.Seconds(), "gc-cpu-%:"+name)
		b.ReportMetric(gcs[i].liveMB, "live-MB:"+name)
		b.ReportMetric(float64(gcs[i].cycles)/float64(scrapes-scrapes0), "gcs/op:"+name)
		if i > 0 {
			b.ReportMetric(100*float64(cpu-ref)/float64(ref), "added-cpu-%:"+name)
			b.ReportMetric(float64(after[i].rss-after[0].rss)/(1<<20), "added-RSS-MB:"+name)
			b.ReportMetric(gcs[i].liveMB-gcs[0].liveMB, "added-live-MB:"+name)
		}
	}
}

func mustProcUsage(b *testing.B, g *benchGateway) procUsage {
	b.Helper()
	u, err := readProcUsage(g.c.proc.cmd.Process.Pid)
	if err != nil {
		b.Fatalf("the %s gateway: %v", g.wiring, err)
	}
	return u
}

// checkBenchTelemetry fails the benchmark unless the gateway took in every point sent and, with
// the component, the component used every network point and tracks every pod: a benchmark of a
// collector that dropped the work would measure nothing.
func checkBenchTelemetry(b *testing.B, g *benchGateway, points, scrapes int) {
	b.Helper()
	tm, err := g.c.telemetry()
	if err != nil {
		b.Fatalf("the %s gateway's telemetry: %v", g.wiring, err)
	}
	var problems []error
	if got := tm.sum("otelcol_receiver_accepted_metric_points_total"); got != float64(points) {
		problems = append(problems, fmt.Errorf("accepted %v points, sent %d", got, points))
	}
	if g.wiring == processorWiring || g.wiring == connectorWiring {
		if got, want := tm.sum(telDatapointsUsed), float64(2*benchPods*scrapes); got != want {
			problems = append(problems, fmt.Errorf("%s = %v, want %v", telDatapointsUsed, got, want))
		}
		if got := tm.sum(telDatapointsDropped); got != 0 {
			problems = append(problems, fmt.Errorf("%s = %v, want 0", telDatapointsDropped, got))
		}
		if got, err := tm.gauge(telPodsTracked); err != nil || got != benchPods {
			problems = append(problems, fmt.Errorf("%s = %v (%v), want %d", telPodsTracked, got, err, benchPods))
		}
	}
	if err := errors.Join(problems...); err != nil {
		b.Fatalf("the %s gateway: %v", g.wiring, err)
	}
}

func TestRawProto(t *testing.T) {
	req := []byte{0x0a, 0x02, 0x08, 0x01}
	out, err := rawProto{}.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Materialize(); !bytes.Equal(got, req) {
		t.Errorf("marshalled %x, want the request's own bytes %x", got, req)
	}
	var resp []byte
	if err := (rawProto{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(req)}, &resp); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp, req) {
		t.Errorf("unmarshalled %x, want %x", resp, req)
	}
	if _, err := (rawProto{}).Marshal("not bytes"); err == nil {
		t.Error("a string marshalled without an error")
	}
	if err := (rawProto{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(req)}, &struct{}{}); err == nil {
		t.Error("unmarshalled into a struct without an error")
	}
}
