package engine

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

const (
	benchPods     = 10_000
	benchServices = 500
	benchPoints   = benchPods * 2
)

// benchBatch is one kubeletstats-shaped scrape of benchPods pods (eth0 receive/transmit each),
// kept so that the next scrape is made by moving its timestamps and counters in place.
type benchBatch struct {
	anomalousEvery int // every n-th pod sends 20 times its usual inbound: it flags

	md  pmetric.Metrics
	dps []pmetric.NumberDataPointSlice // per pod: [receive, transmit]
	sec int64
	rx  []int64
	tx  []int64
}

func newBenchBatch(anomalousEvery int) *benchBatch {
	b := &benchBatch{anomalousEvery: anomalousEvery, md: pmetric.NewMetrics(), sec: 5,
		rx: make([]int64, benchPods), tx: make([]int64, benchPods)}
	rms := b.md.ResourceMetrics()
	rms.EnsureCapacity(benchPods)
	for i := 0; i < benchPods; i++ {
		rm := rms.AppendEmpty()
		a := rm.Resource().Attributes()
		a.PutStr("k8s.pod.uid", fmt.Sprintf("5f6c3a1e-0000-4000-8000-%012d", i))
		a.PutStr("k8s.pod.name", fmt.Sprintf("svc%03d-7c5ddbdf54-p%04d", i%benchServices, i))
		a.PutStr("k8s.namespace.name", "default")
		a.PutStr("k8s.cluster.name", "bench")
		a.PutStr("k8s.node.name", fmt.Sprintf("node-%02d", i%50))
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("k8s.pod.network.io")
		m.SetUnit("By")
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dps := s.DataPoints()
		for _, dir := range []string{"receive", "transmit"} {
			dp := dps.AppendEmpty()
			dp.Attributes().PutStr("interface", "eth0")
			dp.Attributes().PutStr("direction", dir)
			dp.SetStartTimestamp(podStart)
		}
		b.dps = append(b.dps, dps)
		b.rx[i], b.tx[i] = 1_000_000, 500_000
	}
	b.set()
	return b
}

// set writes the current time and counters into the batch.
func (b *benchBatch) set() {
	ts := tsAt(b.sec)
	for i, dps := range b.dps {
		rx, tx := dps.At(0), dps.At(1)
		rx.SetTimestamp(ts)
		tx.SetTimestamp(ts)
		rx.SetIntValue(b.rx[i])
		tx.SetIntValue(b.tx[i])
	}
}

// next moves the batch one span on: in/out = 2 for most pods (the baseline's average, not
// anomalous); every anomalousEvery-th pod sends 40 times as much in, so it flags (the text path
// runs too).
func (b *benchBatch) next() {
	b.sec += 10
	for i := range b.rx {
		in := int64(2000 + i%7)
		if i%b.anomalousEvery == 0 {
			in = 40_000
		}
		b.rx[i] += in
		b.tx[i] += 1000
	}
	b.set()
}

func benchBaseline(b *testing.B) string {
	var sb strings.Builder
	sb.WriteString("key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n")
	for s := 0; s < benchServices; s++ {
		fmt.Fprintf(&sb, "bench:svc%03d,2,0.5,0.5,0.125,8640,1700000000\n", s)
	}
	return writeFile(b, b.TempDir(), "baseline.csv", sb.String())
}

// BenchmarkConsumeMetrics feeds scrapes of 10 000 pods x 2 points, one span apart, with the
// default configuration; 1 % of the pods are anomalous in every span. Only ConsumeMetrics is
// timed; moving the batch on is not.
func BenchmarkConsumeMetrics(b *testing.B) { benchConsume(b, 100) }

// BenchmarkConsumeMetricsAllAnomalous is the worst case: every pod flags in every span.
func BenchmarkConsumeMetricsAllAnomalous(b *testing.B) { benchConsume(b, 1) }

func benchConsume(b *testing.B, anomalousEvery int) {
	cfg := DefaultConfig()
	cfg.Baseline.Path = benchBaseline(b)
	events := 0
	e, err := New(cfg, Settings{Emit: func(_ context.Context, evs []Event) { events += len(evs) }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	batch := newBenchBatch(anomalousEvery)
	// Warm up: prime, then a few spans so that every pod and series exists and spans close.
	e.ConsumeMetrics(ctx, batch.md)
	for i := 0; i < 5; i++ {
		batch.next()
		e.ConsumeMetrics(ctx, batch.md)
	}
	runtime.GC()

	var before, after runtime.MemStats
	var mallocs uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		batch.next()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		e.ConsumeMetrics(ctx, batch.md)
		b.StopTimer()
		runtime.ReadMemStats(&after)
		mallocs += after.Mallocs - before.Mallocs
		b.StartTimer()
	}
	b.StopTimer()
	points := float64(b.N) * benchPoints
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/points, "ns/point")
	b.ReportMetric(float64(mallocs)/points, "allocs/point")
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(time.Millisecond), "ms/batch")
	_ = events
}

// TestBenchBatchShape checks the benchmark's input: the engine scores every pod once the batch has
// moved on twice, with the service names and keys the baseline holds.
func TestBenchBatchShape(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 10 000 pods")
	}
	var sb strings.Builder
	sb.WriteString("key,avg_inbound:outbound,stdev_inbound:outbound\n")
	for s := 0; s < benchServices; s++ {
		fmt.Fprintf(&sb, "bench:svc%03d,2,0.5\n", s)
	}
	cfg := testConfig(writeFile(t, t.TempDir(), "b.csv", sb.String()))
	obs := &recorder{}
	e, err := New(cfg, Settings{Emit: func(context.Context, []Event) {}, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	batch := newBenchBatch(100)
	for i := 0; i < 3; i++ {
		e.ConsumeMetrics(context.Background(), batch.md)
		batch.next()
	}
	spans := obs.all()
	if len(spans) != benchPods {
		t.Fatalf("%d spans scored, want %d", len(spans), benchPods)
	}
	for _, s := range spans[:10] {
		if !strings.HasPrefix(s.key, "bench:svc") || s.out != 1000 {
			t.Errorf("span %+v", s)
		}
	}
}
