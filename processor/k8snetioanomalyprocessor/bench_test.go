package k8snetioanomalyprocessor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor/internal/metadata"
)

// BenchmarkMetricsProcessor is the processor's metrics face (what the collector calls) on fresh
// scrapes of 10 000 pods x 2 points, prepared outside the timer as internal/engine's
// BenchmarkConsumeMetrics does: the engine's cost plus the face's own.
func BenchmarkMetricsProcessor(b *testing.B) {
	const pods, services = 10_000, 500
	var sb strings.Builder
	sb.WriteString("key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n")
	for s := 0; s < services; s++ {
		fmt.Fprintf(&sb, "bench:svc%03d,2,0.5,0.5,0.125,8640,1700000000\n", s)
	}
	path := filepath.Join(b.TempDir(), "baseline.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Baseline.Path = path
	p, err := f.CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()

	next := benchBatches(pods, services)
	ctx := context.Background()
	for i := 0; i < 6; i++ {
		if err := p.ConsumeMetrics(ctx, next()); err != nil {
			b.Fatal(err)
		}
	}
	benchFresh(b, 2*pods, next, func(md pmetric.Metrics) {
		if err := p.ConsumeMetrics(ctx, md); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkDataPointCount is what processorhelper's wrapper added per batch, twice: counting a
// fresh batch's points.
func BenchmarkDataPointCount(b *testing.B) {
	const pods = 10_000
	n := 0
	benchFresh(b, 2*pods, benchBatches(pods, 500), func(md pmetric.Metrics) { n += md.DataPointCount() })
	if n != b.N*2*pods {
		b.Fatalf("counted %d", n)
	}
}

// benchBatches returns a generator of fresh kubeletstats-shaped scrapes, 10 s apart.
func benchBatches(pods, services int) func() pmetric.Metrics {
	template := pmetric.NewMetrics()
	for i := 0; i < pods; i++ {
		rm := template.ResourceMetrics().AppendEmpty()
		a := rm.Resource().Attributes()
		a.PutStr("k8s.pod.uid", fmt.Sprintf("5f6c3a1e-0000-4000-8000-%012d", i))
		a.PutStr("k8s.pod.name", fmt.Sprintf("svc%03d-7c5ddbdf54-p%04d", i%services, i))
		a.PutStr("k8s.namespace.name", "default")
		a.PutStr("k8s.cluster.name", "bench")
		a.PutStr("k8s.node.name", fmt.Sprintf("node-%02d", i%50))
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("k8s.pod.network.io")
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for _, dir := range []string{"receive", "transmit"} {
			dp := sum.DataPoints().AppendEmpty()
			dp.Attributes().PutStr("interface", "eth0")
			dp.Attributes().PutStr("direction", dir)
		}
	}
	base := time.Unix(1_699_999_200, 0)
	round := 0
	return func() pmetric.Metrics {
		round++
		md := pmetric.NewMetrics()
		template.CopyTo(md)
		ts := pcommon.NewTimestampFromTime(base.Add(time.Duration(round) * 10 * time.Second))
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			dps := rms.At(i).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
			dps.At(0).SetTimestamp(ts)
			dps.At(0).SetIntValue(int64(round) * 2000)
			dps.At(1).SetTimestamp(ts)
			dps.At(1).SetIntValue(int64(round) * 1000)
		}
		return md
	}
}

// benchFresh times consume on b.N fresh batches of points points each, prepared outside the timer.
func benchFresh(b *testing.B, points int, next func() pmetric.Metrics, consume func(pmetric.Metrics)) {
	const chunk = 10
	pool := make([]pmetric.Metrics, 0, chunk)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		n := min(chunk, b.N-done)
		pool = pool[:0]
		for j := 0; j < n; j++ {
			pool = append(pool, next())
		}
		runtime.GC()
		b.StartTimer()
		for _, md := range pool {
			consume(md)
		}
		done += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(points), "ns/point")
}
