package k8snetioanomalyprocessor

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"

	"github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor/internal/metadata"
	"github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor/internal/metadatatest"
)

// The kubeletstats_window case, derived by hand. config.yaml: span 10s, window 1m,
// count_threshold 3, lateness 0. testdata/baseline.csv:
//
//	prod:web  avg_inbound:outbound 0.5   stdev 0.0625 -> flags above 0.5 + 4*0.0625 = 0.75
//	          avg_outbound:inbound 2     stdev 0.25   -> flags above 2 + 4*0.25 = 3
//	prod:api  avg 1.25 / 0.8, stdev 0.1 / 0.1
//
// input.yaml is seven kubeletstats scrapes of two pods (cluster prod and node node-1 added as a
// resource processor would), at W+5s, W+15s, ... W+65s with W = 1700000400 (a whole minute).
// Scrape 0 only primes the cumulative counters; scrape k's increase falls into span
// [W+10k, W+10k+10). web-7c5ddbdf54-x8f2k (service web) increases, in/out bytes:
//
//	span 1: 875/1000  inbound:outbound 0.875 -> z = 0.375/0.0625 = 6
//	span 2: 1000/1000 inbound:outbound 1     -> z = 0.5/0.0625 = 8
//	span 3: 1250/1000 inbound:outbound 1.25  -> z = 0.75/0.0625 = 12
//	span 4: 1000/1000 inbound:outbound 1     -> z = 8 again (same text)
//	span 5: 100/450   outbound:inbound 4.5   -> z = 2.5/0.25 = 10
//	span 6: 1000/2000 both ratios at or below average, and in the next window anyway
//
// (The stdevs are powers of two, so every z is exact.) Window [W, W+60) holds 5 anomalous spans
// > 3: one event, count 5, the 4 distinct texts in byte order ("12" < "6" < "8" < "outbound"),
// max_zscore 12 and 10, timestamp W+60. The scrape at W+65 moves the watermark past W+60, so the
// event leaves during ConsumeMetrics. api-5d9c7b8f6d-q2w3e has 1250/1000 every span: exactly
// its averages, never strictly above; no event. The node resource's k8s.node.network.io and the
// pods' k8s.pod.cpu.time are other metrics: they pass and are not looked at.
const goldenCase = "kubeletstats_window"

func TestGolden(t *testing.T) {
	for _, name := range []string{goldenCase} {
		// As one batch, and as the receiver delivers it: one batch per scrape.
		for _, perScrape := range []bool{false, true} {
			feed := "one batch"
			if perScrape {
				feed = "batch per scrape"
			}
			t.Run(name+"/"+feed, func(t *testing.T) {
				dir := filepath.Join("testdata", name)
				cfg := loadCaseConfig(t, dir)
				tt := componenttest.NewTelemetry()
				t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
				p := newPair(t, newFactory(), metadatatest.NewSettings(tt), cfg)

				batches := []pmetric.Metrics{readMetrics(t, filepath.Join(dir, "input.yaml"))}
				if perScrape {
					batches = splitByTime(batches[0])
				}
				for _, md := range batches {
					md.MarkReadOnly() // any write by the processor would panic
					require.NoError(t, p.metrics.ConsumeMetrics(context.Background(), md))
				}
				p.shutdown(t)

				got := p.metricsSink.AllMetrics()
				require.Len(t, got, len(batches))
				for i := range batches {
					assert.True(t, got[i] == batches[i], "the same pmetric.Metrics goes on")
				}
				require.NoError(t, pmetrictest.CompareMetrics(readMetrics(t, filepath.Join(dir, "expected_metrics.yaml")), mergeMetrics(got)))

				expectedLogs, err := golden.ReadLogs(filepath.Join(dir, "expected_logs.yaml"))
				require.NoError(t, err)
				require.NoError(t, plogtest.CompareLogs(expectedLogs, mergeLogs(p.logsSink.AllLogs()), plogtest.IgnoreObservedTimestamp()))

				// 2 pods x 7 scrapes x 2 directions; priming points count as used.
				metadatatest.AssertEqualK8sNetioAnomalyDatapointsUsed(t, tt, []metricdata.DataPoint[int64]{{Value: 28}}, metricdatatest.IgnoreTimestamp())
				metadatatest.AssertEqualK8sNetioAnomalyEventsEmitted(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
				metadatatest.AssertEqualK8sNetioAnomalySpansAnomalous(t, tt, []metricdata.DataPoint[int64]{{Value: 5}}, metricdatatest.IgnoreTimestamp())
				// Spans 1 to 6 of both pods; span 6 is completed by the shutdown.
				metadatatest.AssertEqualK8sNetioAnomalySpansScored(t, tt, []metricdata.DataPoint[int64]{{Value: 12}}, metricdatatest.IgnoreTimestamp())
				metadatatest.AssertEqualK8sNetioAnomalyPodsTracked(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
				metadatatest.AssertEqualK8sNetioAnomalyBaselineKeys(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
			})
		}
	}
}

// splitByTime cuts md into one batch per scrape: runs of resources whose points share a timestamp.
func splitByTime(md pmetric.Metrics) []pmetric.Metrics {
	var out []pmetric.Metrics
	last := pcommon.Timestamp(0)
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		ts := rm.ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0).Timestamp()
		if len(out) == 0 || ts != last {
			out = append(out, pmetric.NewMetrics())
			last = ts
		}
		rm.CopyTo(out[len(out)-1].ResourceMetrics().AppendEmpty())
	}
	return out
}

// mergeMetrics puts several batches back into one, to compare with a golden file.
func mergeMetrics(all []pmetric.Metrics) pmetric.Metrics {
	out := pmetric.NewMetrics()
	for _, md := range all {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			md.ResourceMetrics().At(i).CopyTo(out.ResourceMetrics().AppendEmpty())
		}
	}
	return out
}

func TestBothPipelines(t *testing.T) {
	dir := filepath.Join("testdata", goldenCase)
	cfg := loadCaseConfig(t, dir)
	f := newFactory()
	set := processortest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, "both")
	p := newPair(t, f, set, cfg)
	assert.Equal(t, 1, f.hosts.Len(), "one engine for the metrics and the logs instance")

	// The logs instance passes its own logs on untouched.
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("an application log")
	ld.MarkReadOnly()
	require.NoError(t, p.logs.ConsumeLogs(context.Background(), ld))
	require.Len(t, p.logsSink.AllLogs(), 1)
	assert.True(t, p.logsSink.AllLogs()[0] == ld)
	assert.False(t, p.logs.Capabilities().MutatesData)
	assert.False(t, p.metrics.Capabilities().MutatesData)

	md := readMetrics(t, filepath.Join(dir, "input.yaml"))
	require.NoError(t, p.metrics.ConsumeMetrics(context.Background(), md))
	// The event follows from the event queue's goroutine, through the logs instance's consumer.
	require.Eventually(t, func() bool { return len(p.logsSink.AllLogs()) == 2 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, 1, p.logsSink.AllLogs()[1].LogRecordCount())
	body := p.logsSink.AllLogs()[1].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Map().AsRaw()
	assert.Equal(t, "web-7c5ddbdf54-x8f2k", body["k8s.pod.name"])
	assert.Equal(t, int64(5), body["count"])

	require.NoError(t, pmetrictest.CompareMetrics(readMetrics(t, filepath.Join(dir, "expected_metrics.yaml")), p.metricsSink.AllMetrics()[0]))

	p.shutdown(t)
	assert.Equal(t, 0, f.hosts.Len(), "the entry goes with the last instance, so nothing outlives a reload")
}

// The collector shuts the two pipelines down in no fixed order between them; either way the
// window that the shutdown closes must reach the logs consumer.
func TestShutdownFlushesIntoLogs(t *testing.T) {
	for _, logsFirst := range []bool{false, true} {
		name := "metrics instance first"
		if logsFirst {
			name = "logs instance first"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", goldenCase)
			cfg := loadCaseConfig(t, dir)
			// Held back 30s, the last scrape (W+65s) leaves the window [W, W+60) open.
			cfg.Lateness = 30 * time.Second
			f := newFactory()
			p := newPair(t, f, processortest.NewNopSettings(metadata.Type), cfg)

			require.NoError(t, p.metrics.ConsumeMetrics(context.Background(), readMetrics(t, filepath.Join(dir, "input.yaml"))))
			require.Zero(t, p.logsSink.LogRecordCount(), "nothing is complete before the shutdown")

			first, second := component.Component(p.metrics), component.Component(p.logs)
			if logsFirst {
				first, second = second, first
			}
			require.NoError(t, first.Shutdown(context.Background()))
			require.NoError(t, second.Shutdown(context.Background()))

			require.Equal(t, 1, p.logsSink.LogRecordCount())
			lr := p.logsSink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
			assert.Equal(t, int64(1700000460), lr.Timestamp().AsTime().Unix(), "the window end")
			assert.Equal(t, int64(5), lr.Body().Map().AsRaw()["count"])
			assert.Equal(t, 0, f.hosts.Len())
		})
	}
}

func TestMetricsPipelineOnly(t *testing.T) {
	dir := filepath.Join("testdata", goldenCase)
	cfg := loadCaseConfig(t, dir)
	core, logs := observer.New(zapcore.DebugLevel)
	set := processortest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, "solo")
	set.Logger = zap.New(core)
	f := newFactory().processorFactory()

	// Listed in a metrics pipeline and no logs pipeline.
	p, err := f.CreateMetrics(context.Background(), set, cfg, new(consumertest.MetricsSink))
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))

	warnings := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("is in no logs pipeline").All()
	require.Len(t, warnings, 1, "warned once")
	assert.Contains(t, warnings[0].Message, "k8s_netio_anomaly/solo")
	assert.Contains(t, warnings[0].Message, "list k8s_netio_anomaly/solo in a logs pipeline")

	require.NoError(t, p.ConsumeMetrics(context.Background(), readMetrics(t, filepath.Join(dir, "input.yaml"))))
	require.NoError(t, p.Shutdown(context.Background()))

	events := logs.FilterLevelExact(zapcore.WarnLevel).FilterFieldKey("event").All()
	require.Len(t, events, 1, "the event goes to the collector's log rather than nowhere")
	body, ok := events[0].ContextMap()["event"].(map[string]any)
	require.True(t, ok, "the event body is a structured field, got %T", events[0].ContextMap()["event"])
	assert.Equal(t, "web-7c5ddbdf54-x8f2k", body["k8s.pod.name"])
	assert.Equal(t, "node-1", body["host"])
	assert.Equal(t, int64(5), body["count"])
	assert.Len(t, body["anomalies"], 4)
}

// Item 10 of issue 7: two metrics instances of one ID receive the same batch when a receiver
// feeds both pipelines; each point must count once. The connector's delta case would double
// every delta sum if fed twice, changing its event's texts: the engine drops the copies, which
// repeat a series and a timestamp it has (duplicate) or has scored (late).
func TestTwoMetricsPipelinesFeedOnce(t *testing.T) {
	dir := filepath.Join("..", "..", "connector", "k8snetioanomalyconnector", "testdata", "delta_immediate")
	cfg := loadCaseConfig(t, dir)
	cfg.Baseline.Path = filepath.Join("..", "..", "connector", "k8snetioanomalyconnector", "testdata", "baseline.csv")
	pf := newFactory().processorFactory()
	set := processortest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, "x")
	a, err := pf.CreateMetrics(context.Background(), set, cfg, new(consumertest.MetricsSink))
	require.NoError(t, err)
	b, err := pf.CreateMetrics(context.Background(), set, cfg, new(consumertest.MetricsSink))
	require.NoError(t, err)
	logs := new(consumertest.LogsSink)
	lp, err := pf.CreateLogs(context.Background(), set, cfg, logs)
	require.NoError(t, err)
	for _, c := range []component.Component{a, b, lp} {
		require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	}
	md, err := golden.ReadMetrics(filepath.Join(dir, "input.yaml"))
	require.NoError(t, err)
	require.NoError(t, a.ConsumeMetrics(context.Background(), md))
	require.NoError(t, b.ConsumeMetrics(context.Background(), md))
	for _, c := range []component.Component{a, b, lp} {
		require.NoError(t, c.Shutdown(context.Background()))
	}
	expected, err := golden.ReadLogs(filepath.Join(dir, "expected_logs.yaml"))
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(expected, mergeLogs(logs.AllLogs()), plogtest.IgnoreObservedTimestamp()),
		"the same batch through two pipelines is scored once")
}

func TestLogsPipelineOnlyWarns(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	set := processortest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	p, err := NewFactory().CreateLogs(context.Background(), set, loadCaseConfig(t, filepath.Join("testdata", goldenCase)), new(consumertest.LogsSink))
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, 1, logs.FilterMessageSnippet("no metrics pipeline").Len())
	assert.Zero(t, logs.FilterMessageSnippet("is in no logs pipeline").Len())
}

func TestBrokenBaseline(t *testing.T) {
	cfg := loadCaseConfig(t, filepath.Join("testdata", goldenCase))
	cfg.Baseline.Path = filepath.Join("testdata", "broken_baseline.csv")
	f := newFactory()
	set := processortest.NewNopSettings(metadata.Type)
	pf := f.processorFactory()

	_, err := pf.CreateMetrics(context.Background(), set, cfg, new(consumertest.MetricsSink))
	// Line 3, column 4 of the file: stdev_inbound:outbound is -0.1.
	require.ErrorContains(t, err, "testdata/broken_baseline.csv:3:4:")
	assert.ErrorContains(t, err, "negative standard deviation")
	_, err = pf.CreateLogs(context.Background(), set, cfg, new(consumertest.LogsSink))
	require.ErrorContains(t, err, "testdata/broken_baseline.csv:3:4:")
	assert.Equal(t, 0, f.hosts.Len(), "a failed create leaves nothing behind")
}

// A host left over from a collector build that never shut it down is not reused by the next
// build, whose config is a new value.
func TestStaleHostNotReused(t *testing.T) {
	f := newFactory()
	pf := f.processorFactory()
	set := processortest.NewNopSettings(metadata.Type)
	staleCfg := loadCaseConfig(t, filepath.Join("testdata", goldenCase))
	staleCfg.CountThreshold = 1000 // its engine would never emit
	stale, err := pf.CreateMetrics(context.Background(), set, staleCfg, new(consumertest.MetricsSink))
	require.NoError(t, err)

	fresh := newPairFrom(t, pf, set, loadCaseConfig(t, filepath.Join("testdata", goldenCase)))
	require.NoError(t, fresh.metrics.ConsumeMetrics(context.Background(), readMetrics(t, filepath.Join("testdata", goldenCase, "input.yaml"))))
	fresh.shutdown(t)
	assert.Equal(t, 1, fresh.logsSink.LogRecordCount(), "the new build's engine, not the stale one")
	// The stale engine goes with its own last instance. (In the collector only a build that fails
	// while creating its components leaves instances unshut, and the collector then exits.)
	assert.Equal(t, 1, f.hosts.Len())
	require.NoError(t, stale.Shutdown(context.Background()))
	assert.Equal(t, 0, f.hosts.Len())
}

func TestTelemetryDrops(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	cfg := loadCaseConfig(t, filepath.Join("testdata", goldenCase))
	p, err := NewFactory().CreateMetrics(context.Background(), metadatatest.NewSettings(tt), cfg, new(consumertest.MetricsSink))
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	md := pmetric.NewMetrics()
	// A pod without a name: both points dropped.
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("k8s.cluster.name", "prod")
	addNetworkPoint(rm, "receive", 10)
	addNetworkPoint(rm, "transmit", 10)
	// A named pod: one point with a direction the config does not know.
	rm = md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("k8s.pod.name", "web-7c5ddbdf54-x8f2k")
	rm.Resource().Attributes().PutStr("k8s.cluster.name", "prod")
	rm.Resource().Attributes().PutStr("k8s.node.name", "node-1")
	addNetworkPoint(rm, "receive", 10)
	addNetworkPoint(rm, "sideways", 10)
	require.NoError(t, p.ConsumeMetrics(context.Background(), md))

	metadatatest.AssertEqualK8sNetioAnomalyDatapointsUsed(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualK8sNetioAnomalyDatapointsDropped(t, tt, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("reason", "no_pod_name"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "unknown_direction"))},
	}, metricdatatest.IgnoreTimestamp())
}

func addNetworkPoint(rm pmetric.ResourceMetrics, direction string, v int64) {
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("k8s.pod.network.io")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := sum.DataPoints().AppendEmpty()
	dp.Attributes().PutStr("direction", direction)
	dp.Attributes().PutStr("interface", "eth0")
	dp.SetTimestamp(1700000405e9)
	dp.SetIntValue(v)
}

// pair is the processor listed in a metrics and a logs pipeline under one ID.
type pair struct {
	metrics     processor.Metrics
	logs        processor.Logs
	metricsSink *consumertest.MetricsSink
	logsSink    *consumertest.LogsSink
}

func newPair(t *testing.T, f *factory, set processor.Settings, cfg *Config) *pair {
	return newPairFrom(t, f.processorFactory(), set, cfg)
}

func newPairFrom(t *testing.T, pf processor.Factory, set processor.Settings, cfg *Config) *pair {
	t.Helper()
	p := &pair{metricsSink: new(consumertest.MetricsSink), logsSink: new(consumertest.LogsSink)}
	var err error
	p.metrics, err = pf.CreateMetrics(context.Background(), set, cfg, p.metricsSink)
	require.NoError(t, err)
	p.logs, err = pf.CreateLogs(context.Background(), set, cfg, p.logsSink)
	require.NoError(t, err)
	// The collector starts downstream first; between pipelines the order is not fixed.
	require.NoError(t, p.logs.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, p.metrics.Start(context.Background(), componenttest.NewNopHost()))
	return p
}

func (p *pair) shutdown(t *testing.T) {
	t.Helper()
	require.NoError(t, p.metrics.Shutdown(context.Background()))
	require.NoError(t, p.logs.Shutdown(context.Background()))
}

func loadCaseConfig(t *testing.T, dir string) *Config {
	t.Helper()
	cfg := createDefaultConfig()
	if _, err := os.Stat(filepath.Join(dir, "config.yaml")); err == nil {
		cm, err := confmaptest.LoadConf(filepath.Join(dir, "config.yaml"))
		require.NoError(t, err)
		require.NoError(t, cm.Unmarshal(cfg))
	}
	require.NoError(t, xconfmap.Validate(cfg))
	return cfg
}

func readMetrics(t *testing.T, path string) pmetric.Metrics {
	t.Helper()
	md, err := golden.ReadMetrics(path)
	require.NoError(t, err)
	return md
}

// mergeLogs puts the records of several batches into one plog.Logs, to compare with a golden file.
func mergeLogs(all []plog.Logs) plog.Logs {
	out := plog.NewLogs()
	for _, ld := range all {
		ld.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
	}
	return out
}

// Pipelines call in from several goroutines; under -race this checks the engine, the event
// hand-over and the pass-through together.
func TestConcurrentFeeds(t *testing.T) {
	dir := filepath.Join("testdata", goldenCase)
	cfg := loadCaseConfig(t, dir)
	cfg.Lateness = time.Minute // the two streams may run up to a minute apart
	cfg.IdleFlush = 10 * time.Millisecond
	p := newPair(t, newFactory(), processortest.NewNopSettings(metadata.Type), cfg)

	// One stream per pod, each in scrape order.
	streams := map[string][]pmetric.Metrics{}
	for _, md := range splitByTime(readMetrics(t, filepath.Join(dir, "input.yaml"))) {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			name, _ := rm.Resource().Attributes().Get("k8s.pod.name")
			one := pmetric.NewMetrics()
			rm.CopyTo(one.ResourceMetrics().AppendEmpty())
			streams[name.Str()] = append(streams[name.Str()], one)
		}
	}
	var wg sync.WaitGroup
	for _, batches := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, md := range batches {
				assert.NoError(t, p.metrics.ConsumeMetrics(context.Background(), md))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			assert.NoError(t, p.logs.ConsumeLogs(context.Background(), plog.NewLogs()))
		}
	}()
	wg.Wait()
	p.shutdown(t)

	var events int
	for _, ld := range p.logsSink.AllLogs() {
		events += ld.LogRecordCount()
	}
	assert.Equal(t, 1, events)
	assert.Equal(t, 1+2*7, len(p.metricsSink.AllMetrics()), "every batch passed on")
}
