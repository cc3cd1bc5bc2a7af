package k8snetioanomalyprocessor

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
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

	"github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor/internal/metadata"
	"github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor/internal/metadatatest"
)

// blockingLogs is a logs exporter that is down: each call waits until released or cancelled.
type blockingLogs struct {
	entered chan struct{} // one send per call
	release chan struct{}
	sink    consumertest.LogsSink
}

func newBlockingLogs() *blockingLogs {
	return &blockingLogs{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blockingLogs) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (b *blockingLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		return b.sink.ConsumeLogs(ctx, ld)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// goldenCopy is the golden input moved k windows on, with its pods renamed, so that each copy
// makes one event of its own (and closes its window) during its ConsumeMetrics.
func goldenCopy(t *testing.T, k int) pmetric.Metrics {
	md := readMetrics(t, filepath.Join("testdata", goldenCase, "input.yaml"))
	shift := func(ts pcommon.Timestamp) pcommon.Timestamp {
		return ts + pcommon.Timestamp(time.Duration(k)*2*time.Minute)
	}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		attrs := rm.Resource().Attributes()
		for _, key := range []string{"k8s.pod.name", "k8s.pod.uid"} {
			if v, ok := attrs.Get(key); ok {
				s := v.Str()
				attrs.PutStr(key, s[:len(s)-1]+fmt.Sprint(k)) // the last 5 characters stay a pod suffix
			}
		}
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			ms := rm.ScopeMetrics().At(j).Metrics()
			for m := 0; m < ms.Len(); m++ {
				var dps pmetric.NumberDataPointSlice
				switch ms.At(m).Type() {
				case pmetric.MetricTypeSum:
					dps = ms.At(m).Sum().DataPoints()
				case pmetric.MetricTypeGauge:
					dps = ms.At(m).Gauge().DataPoints()
				default:
					continue
				}
				for d := 0; d < dps.Len(); d++ {
					dps.At(d).SetTimestamp(shift(dps.At(d).Timestamp()))
				}
			}
		}
	}
	return md
}

// consumeWithin fails the test if ConsumeMetrics does not return promptly.
func consumeWithin(t *testing.T, p processor.Metrics, md pmetric.Metrics) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.ConsumeMetrics(context.Background(), md) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("ConsumeMetrics waited for the logs pipeline")
	}
}

// With the events' exporter down (and no sending queue), the metrics still flow; events that do
// not fit in the queue are dropped and counted, and what is queued is delivered at shutdown.
func TestMetricsNeverWaitForLogs(t *testing.T) {
	cfg := loadCaseConfig(t, filepath.Join("testdata", goldenCase))
	cfg.EventQueueSize = 1
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	set := metadatatest.NewSettings(tt)
	core, observed := observer.New(zapcore.WarnLevel)
	set.Logger = zap.New(core)
	pf := NewFactory()
	metricsSink, logs := new(consumertest.MetricsSink), newBlockingLogs()
	mp, err := pf.CreateMetrics(context.Background(), set, cfg, metricsSink)
	require.NoError(t, err)
	lp, err := pf.CreateLogs(context.Background(), set, cfg, logs)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, mp.Start(context.Background(), componenttest.NewNopHost()))

	consumeWithin(t, mp, goldenCopy(t, 0))
	<-logs.entered // the first batch is in the exporter, which holds it
	for k := 1; k <= 3; k++ {
		consumeWithin(t, mp, goldenCopy(t, k)) // the second fills the queue, the others do not fit
	}
	assert.Len(t, metricsSink.AllMetrics(), 4, "every metrics batch passed on")
	metadatatest.AssertEqualK8sNetioAnomalyEventsDropped(t, tt, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("reason", "buffer_full"))},
	}, metricdatatest.IgnoreTimestamp())
	assert.Equal(t, 1, observed.FilterMessageSnippet("event queue is full").Len(), "warned once")

	close(logs.release) // the exporter is back
	require.NoError(t, mp.Shutdown(context.Background()))
	require.NoError(t, lp.Shutdown(context.Background()))
	var pods []string
	for _, ld := range logs.sink.AllLogs() {
		pods = append(pods, ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Map().AsRaw()["k8s.pod.name"].(string))
	}
	assert.Equal(t, []string{"web-7c5ddbdf54-x8f20", "web-7c5ddbdf54-x8f21"}, pods, "the one in the exporter and the queued one")
}

// A shutdown whose time runs out aborts the delivery in flight and logs what is left, whichever
// instance the collector shuts down first.
func TestShutdownDoesNotWaitForeverForLogs(t *testing.T) {
	for _, logsFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("logs instance first %v", logsFirst), func(t *testing.T) {
			cfg := loadCaseConfig(t, filepath.Join("testdata", goldenCase))
			core, observed := observer.New(zapcore.WarnLevel)
			set := processortest.NewNopSettings(metadata.Type)
			set.Logger = zap.New(core)
			pf := NewFactory()
			logs := newBlockingLogs()
			mp, err := pf.CreateMetrics(context.Background(), set, cfg, new(consumertest.MetricsSink))
			require.NoError(t, err)
			lp, err := pf.CreateLogs(context.Background(), set, cfg, logs)
			require.NoError(t, err)
			require.NoError(t, lp.Start(context.Background(), componenttest.NewNopHost()))
			require.NoError(t, mp.Start(context.Background(), componenttest.NewNopHost()))

			consumeWithin(t, mp, goldenCopy(t, 0))
			<-logs.entered
			consumeWithin(t, mp, goldenCopy(t, 1)) // queued behind the held one

			first, second := component.Component(mp), component.Component(lp)
			if logsFirst {
				first, second = second, first
			}
			for _, c := range []component.Component{first, second} {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				require.NoError(t, c.Shutdown(ctx))
				cancel()
			}
			assert.Zero(t, logs.sink.LogRecordCount(), "the exporter never took any")
			// The held batch fails with the cancelled context and is logged with the error; the
			// queued one is logged as undeliverable: both end in the collector's log.
			logged := map[string]bool{}
			for _, e := range observed.All() {
				if ev, ok := e.ContextMap()["event"].(map[string]any); ok {
					logged[ev["k8s.pod.name"].(string)] = true
				}
				if evs, ok := e.ContextMap()["events"].([]map[string]any); ok {
					for _, ev := range evs {
						logged[ev["k8s.pod.name"].(string)] = true
					}
				}
			}
			assert.Equal(t, map[string]bool{"web-7c5ddbdf54-x8f20": true, "web-7c5ddbdf54-x8f21": true}, logged)
		})
	}
}

// The shutdown's flush waits for room in a full queue rather than dropping: by then no metrics
// are waiting on it.
func TestShutdownFlushWaitsForRoom(t *testing.T) {
	cfg := loadCaseConfig(t, filepath.Join("testdata", goldenCase))
	cfg.EventQueueSize = 1
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	pf := NewFactory()
	logs := newBlockingLogs()
	mp, err := pf.CreateMetrics(context.Background(), metadatatest.NewSettings(tt), cfg, new(consumertest.MetricsSink))
	require.NoError(t, err)
	lp, err := pf.CreateLogs(context.Background(), metadatatest.NewSettings(tt), cfg, logs)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, mp.Start(context.Background(), componenttest.NewNopHost()))

	consumeWithin(t, mp, goldenCopy(t, 0))
	<-logs.entered                         // held by the exporter
	consumeWithin(t, mp, goldenCopy(t, 1)) // fills the queue
	scrapes := splitByTime(goldenCopy(t, 2))
	for _, md := range scrapes[:len(scrapes)-1] {
		consumeWithin(t, mp, md) // without its last scrape, the window stays open until the shutdown
	}

	go func() {
		time.Sleep(50 * time.Millisecond) // the exporter comes back while the shutdown waits
		close(logs.release)
	}()
	require.NoError(t, mp.Shutdown(context.Background()))
	require.NoError(t, lp.Shutdown(context.Background()))
	var pods []string
	for _, ld := range logs.sink.AllLogs() {
		pods = append(pods, ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Map().AsRaw()["k8s.pod.name"].(string))
	}
	assert.Equal(t, []string{"web-7c5ddbdf54-x8f20", "web-7c5ddbdf54-x8f21", "web-7c5ddbdf54-x8f22"}, pods)
	_, err = tt.GetMetric("otelcol_k8s_netio_anomaly_events_dropped")
	assert.Error(t, err, "nothing dropped, so the counter was never recorded")
}
