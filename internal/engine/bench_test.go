package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

const (
	benchServices = 500
	// benchPoolPoints bounds the batches prepared ahead of one timed stretch (~130 MB of pdata):
	// 100 batches of 1 000 pods, 10 of 10 000 pods, 1 of 100 000 pods.
	benchPoolPoints = 200_000
)

// benchSizes are the estates the benchmarks run at (pods per batch, each with eth0 receive and
// transmit: two points per pod).
var benchSizes = []int{1_000, 10_000, 100_000}

// benchEstate is a kubeletstats-shaped estate of pods (eth0 receive/transmit each). Every round
// is a FRESH batch: the template is deep-copied into new memory and given the round's times and
// counters, outside the timer, so the timed code reads a batch it has never seen (as a gateway
// reads a batch the OTLP receiver has just decoded), not one rewritten in place and kept in cache.
type benchEstate struct {
	pods           int
	anomalousEvery int // every n-th pod sends 20 times its usual inbound: it flags

	template pmetric.Metrics
	sec      int64
	step     int64 // seconds between scrapes
	rx, tx   []int64
	shuffled bool // each batch lists the pods in a new order
}

func newBenchEstate(pods, anomalousEvery int) *benchEstate {
	s := &benchEstate{pods: pods, anomalousEvery: anomalousEvery, template: pmetric.NewMetrics(),
		sec: -5, step: 10, rx: make([]int64, pods), tx: make([]int64, pods)}
	rms := s.template.ResourceMetrics()
	rms.EnsureCapacity(pods)
	for i := 0; i < pods; i++ {
		rm := rms.AppendEmpty()
		a := rm.Resource().Attributes()
		a.PutStr("k8s.pod.uid", fmt.Sprintf("5f6c3a1e-0000-4000-8000-%012d", i))
		// A Deployment's pod name: the service, a 10-character template hash and a 5-character
		// suffix (the search's service pattern strips exactly that).
		a.PutStr("k8s.pod.name", fmt.Sprintf("svc%03d-7c5ddbdf54-%s", i%benchServices, podSuffix(i)))
		a.PutStr("k8s.namespace.name", "default")
		a.PutStr("k8s.cluster.name", "bench")
		a.PutStr("k8s.node.name", fmt.Sprintf("node-%03d", i/110))
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("k8s.pod.network.io")
		m.SetUnit("By")
		sum := m.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dps := sum.DataPoints()
		for _, dir := range []string{"receive", "transmit"} {
			dp := dps.AppendEmpty()
			dp.Attributes().PutStr("interface", "eth0")
			dp.Attributes().PutStr("direction", dir)
			dp.SetStartTimestamp(podStart)
			dp.SetIntValue(0)
		}
		s.rx[i], s.tx[i] = 1_000_000, 500_000
	}
	return s
}

// podSuffix is i in base 36 on 5 characters, like the random suffix of a Deployment's pod.
func podSuffix(i int) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	var b [5]byte
	for j := len(b) - 1; j >= 0; j-- {
		b[j] = digits[i%36]
		i /= 36
	}
	return string(b[:])
}

// round moves the estate one scrape (10 s unless step says otherwise) on and returns that scrape as a fresh batch: in/out = 2
// for most pods (the baseline's average, not anomalous); every anomalousEvery-th pod sends 40
// times as much in, so it flags (the text path runs too).
func (s *benchEstate) round() pmetric.Metrics {
	s.sec += s.step
	for i := range s.rx {
		in := int64(2000 + i%7)
		if i%s.anomalousEvery == 0 {
			in = 40_000
		}
		s.rx[i] += in
		s.tx[i] += 1000
	}
	md := pmetric.NewMetrics()
	s.template.CopyTo(md)
	ts := tsAt(s.sec)
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		dps := rms.At(i).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
		rx, tx := dps.At(0), dps.At(1)
		rx.SetTimestamp(ts)
		tx.SetTimestamp(ts)
		rx.SetIntValue(s.rx[i])
		tx.SetIntValue(s.tx[i])
	}
	if s.shuffled {
		// Copied into a new batch in the new order, so that the batch's memory is read in order
		// as a decoded request's is: only the pods come in another order.
		out := pmetric.NewMetrics()
		out.ResourceMetrics().EnsureCapacity(rms.Len())
		for _, i := range rand.Perm(rms.Len()) {
			rms.At(i).CopyTo(out.ResourceMetrics().AppendEmpty())
		}
		return out
	}
	return md
}

func benchBaseline(b testing.TB) string {
	var sb strings.Builder
	sb.WriteString("key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n")
	for s := 0; s < benchServices; s++ {
		fmt.Fprintf(&sb, "bench:svc%03d,2,0.5,0.5,0.125,8640,1700000000\n", s)
	}
	return writeFile(b, b.TempDir(), "baseline.csv", sb.String())
}

// BenchmarkConsumeMetrics is the engine on fresh scrapes of 1 000, 10 000 and 100 000 pods x 2
// points, one 10 s scrape apart, with the default configuration; 1 % of the pods are anomalous in
// every span. One op is one scrape (one batch). Only ConsumeMetrics is timed: the batches of a
// stretch are prepared before it with the timer stopped, and the garbage of preparing them is
// collected then too; the GC that the engine's own allocations cause falls in the timed stretch.
//
// Reported: ns/point, allocs/point (engine only), and B/pod: the heap the engine holds per tracked
// pod once every pod exists and spans close.
func BenchmarkConsumeMetrics(b *testing.B) {
	for _, pods := range benchSizes {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) { benchConsume(b, pods, 100, 0) })
	}
}

// BenchmarkConsumeMetricsAllAnomalous is the worst case: every pod flags in every span, and the
// window is one minute, so that every sixth scrape closes a window and every pod makes an event
// (with the default hourly window no window would close within the run).
func BenchmarkConsumeMetricsAllAnomalous(b *testing.B) {
	b.Run("pods=10000", func(b *testing.B) { benchConsume(b, 10_000, 1, time.Minute) })
}

// BenchmarkConsumeMetricsFastScrape is the engine at a 5 s scrape: nine points wait per series
// with the default lateness, more than a series holds in itself, so its B/pod is the memory of
// a spilled buffer.
func BenchmarkConsumeMetricsFastScrape(b *testing.B) {
	b.Run("pods=10000", func(b *testing.B) { benchConsumeEvery(b, 10_000, 5) })
}

// BenchmarkBareWalk is the floor for BenchmarkConsumeMetrics on the same fresh batches: a walk
// that only reads what any consumer of these points must read (the pod's uid, one map lookup per
// pod, the metric name, each point's interface and direction attributes, time and value) and
// keeps a running sum per pod.
func BenchmarkBareWalk(b *testing.B) {
	for _, pods := range benchSizes {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) {
			w := &bareWalker{pods: make(map[string]*walkPod)}
			benchFeed(b, newBenchEstate(pods, 100), w.walk)
		})
	}
}

// BenchmarkEngineOverFloor is the ratio the engine's target is set in: the engine and the floor
// walk take the same fresh scrapes (each its own copy, prepared before the timed stretch) in
// turns, the order swapped every scrape, so that the VM's changes of speed, which run to half its
// speed over an hour, fall on both alike. Reported: each one's ns/point and engine/floor.
func BenchmarkEngineOverFloor(b *testing.B) {
	for _, pods := range benchSizes {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) { engineOverFloor(b, pods, false) })
	}
}

// BenchmarkEngineOverFloorShuffled is BenchmarkEngineOverFloor on batches that each list the
// pods in a new order, so that the engine's guess of the next pod (findPod) always fails.
func BenchmarkEngineOverFloorShuffled(b *testing.B) {
	b.Run("pods=10000", func(b *testing.B) { engineOverFloor(b, 10_000, true) })
}

func engineOverFloor(b *testing.B, pods int, shuffled bool) {
	e, err := New(benchConfig(b), Settings{Emit: func(context.Context, []Event) {}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	w := &bareWalker{pods: make(map[string]*walkPod)}
	est := newBenchEstate(pods, 100)
	est.shuffled = shuffled
	for i := 0; i < 6; i++ {
		md := est.round()
		w.walk(md)
		e.ConsumeMetrics(ctx, md)
	}
	chunk := max(1, benchPoolPoints/(4*pods))
	var engine, floor time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		n := min(chunk, b.N-done)
		pairs := make([][2]pmetric.Metrics, n)
		for j := range pairs {
			pairs[j][0] = est.round()
			pairs[j][1] = pmetric.NewMetrics()
			pairs[j][0].CopyTo(pairs[j][1])
		}
		runtime.GC()
		b.StartTimer()
		for j, pair := range pairs {
			first := (done + j) % 2 // who goes first, and takes the copy made first
			for k := range 2 {
				t0 := time.Now()
				if k == first {
					e.ConsumeMetrics(ctx, pair[k])
					engine += time.Since(t0)
				} else {
					w.walk(pair[k])
					floor += time.Since(t0)
				}
			}
		}
		done += n
	}
	b.StopTimer()
	if e.pods.len() != pods || len(w.pods) != pods {
		b.Fatalf("%d pods tracked, %d walked, want %d", e.pods.len(), len(w.pods), pods)
	}
	points := float64(b.N) * float64(2*pods)
	b.ReportMetric(float64(engine.Nanoseconds())/points, "engine-ns/point")
	b.ReportMetric(float64(floor.Nanoseconds())/points, "floor-ns/point")
	b.ReportMetric(float64(engine)/float64(floor), "engine/floor")
}

// benchConfig is the default configuration with the benchmark estate's baseline.
func benchConfig(b *testing.B) Config {
	cfg := DefaultConfig()
	cfg.Baseline.Path = benchBaseline(b)
	return cfg
}

// benchConsume benchmarks the engine with the default configuration, or another window when
// window is not 0.
func benchConsume(b *testing.B, pods, anomalousEvery int, window time.Duration) {
	benchConsumeWith(b, pods, anomalousEvery, window, 10)
}

func benchConsumeEvery(b *testing.B, pods int, step int64) { benchConsumeWith(b, pods, 100, 0, step) }

func benchConsumeWith(b *testing.B, pods, anomalousEvery int, window time.Duration, step int64) {
	cfg := benchConfig(b)
	if window != 0 {
		cfg.Window = window
	}
	events := 0
	e, err := New(cfg, Settings{Emit: func(_ context.Context, evs []Event) { events += len(evs) }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	est := newBenchEstate(pods, anomalousEvery)
	est.step = step
	benchFeed(b, est, func(md pmetric.Metrics) { e.ConsumeMetrics(ctx, md) })
	if e.pods.len() != pods {
		b.Fatalf("%d pods tracked, want %d", e.pods.len(), pods)
	}
	if window != 0 && b.N >= 12 && events == 0 { // 18 scrapes: 3 minutes of data time
		b.Fatal("no events: no window closed")
	}
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}

// benchFeed warms consume up on a minute of scrapes (every pod exists, spans close, buffers are
// as full as they get), measures the heap it then holds per pod, and times it on b.N fresh
// scrapes of est.
func benchFeed(b *testing.B, est *benchEstate, consume func(pmetric.Metrics)) {
	pods := est.pods
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	for i := int64(0); i < 60/est.step; i++ {
		consume(est.round())
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapPerPod := (float64(ms.HeapAlloc) - float64(heapBefore)) / float64(pods)

	chunk := max(1, benchPoolPoints/(2*pods))
	pool := make([]pmetric.Metrics, 0, chunk)
	var mallocs uint64
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		n := min(chunk, b.N-done)
		pool = pool[:0]
		for j := 0; j < n; j++ {
			pool = append(pool, est.round())
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		b.StartTimer()
		for _, md := range pool {
			consume(md)
		}
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - before
		done += n
	}
	points := float64(b.N) * float64(2*pods)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/points, "ns/point")
	b.ReportMetric(float64(mallocs)/points, "allocs/point")
	b.ReportMetric(heapPerPod, "B/pod")
}

type walkPod struct {
	uid      string
	ts       int64
	rx, tx   int64
	ifaceLen int
}

// bareWalker is the floor's consumer; see BenchmarkBareWalk.
type bareWalker struct {
	pods map[string]*walkPod
}

func (w *bareWalker) walk(md pmetric.Metrics) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		var p *walkPod
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != "k8s.pod.network.io" || m.Type() != pmetric.MetricTypeSum {
					continue
				}
				if p == nil {
					uid, _ := rm.Resource().Attributes().Get(attrPodUID)
					if p = w.pods[uid.Str()]; p == nil {
						p = &walkPod{uid: uid.Str()}
						w.pods[p.uid] = p
					}
				}
				dps := m.Sum().DataPoints()
				for l := 0; l < dps.Len(); l++ {
					dp := dps.At(l)
					attrs := dp.Attributes()
					iface, _ := attrs.Get("interface")
					dir, _ := attrs.Get("direction")
					p.ifaceLen += len(iface.Str())
					p.ts = int64(dp.Timestamp())
					if dir.Str() == "receive" {
						p.rx += dp.IntValue()
					} else {
						p.tx += dp.IntValue()
					}
				}
			}
		}
	}
}

// TestBenchBatchShape checks the benchmark's input: the engine scores every pod once the estate
// has moved on twice, with the service names and keys the baseline holds, and every round is a
// new batch.
func TestBenchBatchShape(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 10 000 pods")
	}
	const pods = 10_000
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
	est := newBenchEstate(pods, 100)
	var prev pmetric.Metrics
	for i := 0; i < 3; i++ {
		md := est.round()
		if i > 0 && md.ResourceMetrics().At(0).Resource().Attributes().Len() == 0 {
			t.Fatal("empty copy")
		}
		if i > 0 {
			// A fresh batch: changing it leaves the previous one alone.
			md.ResourceMetrics().At(0).Resource().Attributes().PutStr("probe", "x")
			if _, ok := prev.ResourceMetrics().At(0).Resource().Attributes().Get("probe"); ok {
				t.Fatal("rounds share memory")
			}
			md.ResourceMetrics().At(0).Resource().Attributes().Remove("probe")
		}
		e.ConsumeMetrics(context.Background(), md)
		prev = md
	}
	spans := obs.all()
	if len(spans) != pods {
		t.Fatalf("%d spans scored, want %d", len(spans), pods)
	}
	for _, s := range spans[:10] {
		if !regexp.MustCompile(`^bench:svc\d{3}$`).MatchString(s.key) || s.out != 1000 {
			t.Errorf("span %+v", s)
		}
	}
	w := &bareWalker{pods: map[string]*walkPod{}}
	w.walk(prev)
	if len(w.pods) != pods || w.pods["5f6c3a1e-0000-4000-8000-000000000001"].tx != 500_000+3*1000 {
		t.Errorf("bare walk: %d pods", len(w.pods))
	}
}

// TestBenchEstateShuffled checks the shuffled benchmark's input: each round lists the same pods
// in a new order, each pod with its own counters.
func TestBenchEstateShuffled(t *testing.T) {
	const pods = 50
	est := newBenchEstate(pods, 10)
	est.shuffled = true
	uids := func(md pmetric.Metrics) []string {
		var out []string
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			uid, _ := rms.At(i).Resource().Attributes().Get(attrPodUID)
			out = append(out, uid.Str())
		}
		return out
	}
	first, second := est.round(), est.round()
	a, b := uids(first), uids(second)
	if slices.Equal(a, b) {
		t.Fatal("two rounds list the pods in the same order")
	}
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) || len(slices.Compact(a)) != pods {
		t.Fatalf("the rounds hold different pods: %v, %v", a, b)
	}
	w := &bareWalker{pods: map[string]*walkPod{}}
	w.walk(second)
	for i := 0; i < pods; i++ {
		uid := fmt.Sprintf("5f6c3a1e-0000-4000-8000-%012d", i)
		if p := w.pods[uid]; p == nil || p.rx != est.rx[i] || p.tx != est.tx[i] {
			t.Errorf("pod %d: walked %+v, want receive %d and transmit %d", i, p, est.rx[i], est.tx[i])
		}
	}
}
