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
// extra GC work for the component's state. Needs no built collector.
func BenchmarkProcessorOnKubeletstats(b *testing.B) {
	b.Run("consumer=processor", benchProcessorOnKubeletstats)
	// The floor on the same requests (bareWalker): what the processor costs above it is the
	// detection's own work.
	b.Run("consumer=bare-walk", func(b *testing.B) {
		w := &bareWalker{pods: map[string]*walkPod{}}
		benchOnKubeletstats(b, func(md pmetric.Metrics) error { w.walk(md); return nil })
		if len(w.pods) != benchPods {
			b.Fatalf("the walk saw %d pods, want %d", len(w.pods), benchPods)
		}
	})
}

func benchProcessorOnKubeletstats(b *testing.B) {
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
	benchOnKubeletstats(b, func(md pmetric.Metrics) error { return p.ConsumeMetrics(ctx, md) })
}

// benchOnKubeletstats feeds consume the estate's requests, each decoded just before, and reports
// the time consume took per pod-scrape.
func benchOnKubeletstats(b *testing.B, consume func(pmetric.Metrics) error) {
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Hour).Add(5 * time.Minute)
	est := newKubeletEstate(benchCluster, benchNodes, benchPodsPerNode, 100, start)
	var consuming time.Duration
	scrape := func() {
		for _, md := range est.next() {
			raw, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
			if err != nil {
				b.Fatal(err)
			}
			req := pmetricotlp.NewExportRequest()
			if err := req.UnmarshalProto(raw); err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			err = consume(req.Metrics())
			consuming += time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := 0; i < benchWarmup; i++ {
		scrape()
	}
	consuming = 0
	scrapes := 0
	for b.Loop() {
		scrape()
		scrapes++
	}
	b.ReportMetric(float64(consuming.Nanoseconds())/float64(scrapes*benchPods), "ns/pod-scrape")
}
