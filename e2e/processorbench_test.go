package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor"
)

// BenchmarkProcessorOnKubeletstats is the processor alone, in this process, on BenchmarkCollector's
// requests: each request is decoded from its protobuf bytes, as the OTLP receiver does, and handed
// to the processor at once, so the batch is as fresh and as warm as in the collector. Only the
// processor's ConsumeMetrics is counted (ns per pod-scrape: per pod and scrape, all 26 points of
// it); it is the component's own share of what BenchmarkCollector adds, without the collector's
// extra GC work for the component's state. The floor walk (bareWalker) takes each request too,
// decoded again for it, and the two take turns at going first, so that the VM's changes of speed
// fall on both alike: what the processor costs above the floor is the detection's own work.
// Needs no built collector.
func BenchmarkProcessorOnKubeletstats(b *testing.B) {
	baseline := filepath.Join(b.TempDir(), "baseline.csv")
	if err := os.WriteFile(baseline, []byte(estateBaseline(benchCluster)), 0o644); err != nil {
		b.Fatal(err)
	}
	f := k8snetioanomalyprocessor.NewFactory()
	cfg := f.CreateDefaultConfig().(*k8snetioanomalyprocessor.Config)
	cfg.Baseline.Path = baseline
	ctx := context.Background()
	p, err := f.CreateMetrics(ctx, processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(ctx, componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = p.Shutdown(ctx) }()
	w := &bareWalker{pods: map[string]*walkPod{}}

	start := time.Now().Add(-2 * time.Hour).Truncate(time.Hour).Add(5 * time.Minute)
	est := newKubeletEstate(benchCluster, benchNodes, benchPodsPerNode, 100, start)
	var processor, floor time.Duration
	decode := func(raw []byte) pmetric.Metrics {
		req := pmetricotlp.NewExportRequest()
		if err := req.UnmarshalProto(raw); err != nil {
			b.Fatal(err)
		}
		return req.Metrics()
	}
	turn := 0
	scrape := func() {
		for _, md := range est.next() {
			raw, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
			if err != nil {
				b.Fatal(err)
			}
			turn++
			for k := range 2 {
				batch := decode(raw)
				t0 := time.Now()
				if (turn+k)%2 == 0 {
					err = p.ConsumeMetrics(ctx, batch)
					processor += time.Since(t0)
				} else {
					w.walk(batch)
					floor += time.Since(t0)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	for i := 0; i < benchWarmup; i++ {
		scrape()
	}
	processor, floor = 0, 0
	scrapes := 0
	for b.Loop() {
		scrape()
		scrapes++
	}
	if len(w.pods) != benchPods {
		b.Fatalf("the walk saw %d pods, want %d", len(w.pods), benchPods)
	}
	podScrapes := float64(scrapes * benchPods)
	b.ReportMetric(float64(processor.Nanoseconds())/podScrapes, "ns/pod-scrape")
	b.ReportMetric(float64(floor.Nanoseconds())/podScrapes, "floor-ns/pod-scrape")
	b.ReportMetric(float64(processor)/float64(floor), "processor/floor")
}
