package kubeletsim

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// BaselineHeader is the detection's baseline CSV header, in its column order.
var BaselineHeader = []string{"key", "avg_inbound:outbound", "avg_outbound:inbound", "stdev_inbound:outbound", "stdev_outbound:inbound", "count", "last_seen"}

// BaselineRow is one key's statistics.
type BaselineRow struct {
	Key                    string
	AvgInOut, AvgOutIn     float64
	StdevInOut, StdevOutIn float64 // sample standard deviations (n - 1)
	Count                  int     // pod-spans
	LastSeen               int64   // epoch seconds of the start of the last simulated span
}

// meanVar is Welford's running mean and variance.
type meanVar struct {
	n        int
	mean, m2 float64
}

func (m *meanVar) add(x float64) {
	m.n++
	d := x - m.mean
	m.mean += d / float64(m.n)
	m.m2 += d * (x - m.mean)
}

func (m *meanVar) stdev() float64 {
	if m.n < 2 {
		return 0
	}
	return math.Sqrt(m.m2 / float64(m.n-1))
}

// spanRatios visits every pod's two ratios in spans consecutive spans of normal traffic
// from simulated second from, read through the server's own counter code.
func (s *Simulator) spanRatios(from float64, spans int, span time.Duration, visit func(p *simPod, j int, inOut, outIn float64)) {
	l := span.Seconds()
	for _, p := range s.pods {
		st := newCounterState(int64(math.Floor(from)), 0, 0)
		prevRx, prevTx := interfaceSums(p.interfaces, p.traffic.totalsAt(&st, from, nil))
		for j := range spans {
			rx, tx := interfaceSums(p.interfaces, p.traffic.totalsAt(&st, from+float64(j+1)*l, nil))
			in, out := float64(rx-prevRx), float64(tx-prevTx)
			prevRx, prevTx = rx, tx
			if in > 0 && out > 0 {
				visit(p, j, in/out, out/in)
			}
		}
	}
}

// interfaceSums adds up the interface counters a consumer of the Summary would see.
func interfaceSums(ifaces []InterfaceShare, tot podTotals) (rx, tx uint64) {
	rxs, txs := interfaceCounters(ifaces, tot.rx, tot.tx)
	for i := range rxs {
		rx += rxs[i]
		tx += txs[i]
	}
	return rx, tx
}

// Baseline computes the baseline of the spans of normal traffic ending at simulated time
// 0, so it never overlaps the served traffic. Per pod-span, not the search's per-service
// mean: that mean is smoother than any one pod, and its stdev would flag normal replicas.
func (s *Simulator) Baseline(spans int, span time.Duration) ([]BaselineRow, error) {
	if spans < 2 {
		return nil, fmt.Errorf("baseline needs at least 2 spans, got %d", spans)
	}
	if span < time.Second || span%time.Second != 0 {
		return nil, fmt.Errorf("baseline span %v: want a whole number of seconds", span)
	}
	l := span.Seconds()
	from := -float64(spans) * l
	type keyStats struct{ inOut, outIn meanVar }
	stats := map[string]*keyStats{}
	s.spanRatios(from, spans, span, func(p *simPod, _ int, inOut, outIn float64) {
		key := s.cluster + ":" + DetectionService(p.name)
		ks := stats[key]
		if ks == nil {
			ks = &keyStats{}
			stats[key] = ks
		}
		ks.inOut.add(inOut)
		ks.outIn.add(outIn)
	})
	lastSeen := s.start.Unix() - int64(l) // the last span is [start - span, start)
	rows := make([]BaselineRow, 0, len(stats))
	for key, ks := range stats {
		rows = append(rows, BaselineRow{
			Key:      key,
			AvgInOut: ks.inOut.mean, AvgOutIn: ks.outIn.mean,
			StdevInOut: ks.inOut.stdev(), StdevOutIn: ks.outIn.stdev(),
			Count: ks.inOut.n, LastSeen: lastSeen,
		})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	return rows, nil
}

// WriteBaselineCSV writes rows with BaselineHeader, numbers in their shortest exact form.
func WriteBaselineCSV(w io.Writer, rows []BaselineRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(BaselineHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, r := range rows {
		if err := cw.Write([]string{r.Key, f(r.AvgInOut), f(r.AvgOutIn), f(r.StdevInOut), f(r.StdevOutIn), strconv.Itoa(r.Count), strconv.FormatInt(r.LastSeen, 10)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteFileAtomic writes through a temporary file and a rename, so a polling reader never
// sees a half-written file.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
