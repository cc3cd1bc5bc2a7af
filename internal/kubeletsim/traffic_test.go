package kubeletsim

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

var testStart = time.Date(2025, 3, 1, 12, 0, 0, 250_000_000, time.UTC)

func mustNew(t *testing.T, cfg Config, incidents []Incident, seed uint64) *Simulator {
	t.Helper()
	sim, err := New(cfg, incidents, seed, testStart)
	if err != nil {
		t.Fatal(err)
	}
	return sim
}

// podCounter is what a consumer reads of one pod at one scrape.
type podCounter struct {
	rx, tx               uint64 // summed over interfaces
	defaultRx, defaultTx uint64 // the top-level (default interface) values
	ifaces               map[string][2]uint64
	containerStart       time.Time
	podStart             time.Time
	uid                  string
}

// scrape reads every pod of every node at simulated time t (seconds), through Summary.
func scrape(t *testing.T, sim *Simulator, at float64) map[string]podCounter {
	t.Helper()
	out := map[string]podCounter{}
	for _, node := range sim.Nodes() {
		sum, err := sim.Summary(node, sim.Start().Add(seconds(at)))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range sum.Pods {
			c := podCounter{
				defaultRx: *p.Network.RxBytes, defaultTx: *p.Network.TxBytes,
				ifaces:         map[string][2]uint64{},
				containerStart: p.Containers[0].StartTime.Time, podStart: p.StartTime.Time, uid: p.PodRef.UID,
			}
			for _, in := range p.Network.Interfaces {
				c.rx += *in.RxBytes
				c.tx += *in.TxBytes
				c.ifaces[in.Name] = [2]uint64{*in.RxBytes, *in.TxBytes}
			}
			out[p.PodRef.Name] = c
		}
	}
	return out
}

func nodeTotals(t *testing.T, sim *Simulator, at float64) map[string][2]uint64 {
	t.Helper()
	out := map[string][2]uint64{}
	for _, node := range sim.Nodes() {
		sum, err := sim.Summary(node, sim.Start().Add(seconds(at)))
		if err != nil {
			t.Fatal(err)
		}
		out[node] = [2]uint64{*sum.Node.Network.RxBytes, *sum.Node.Network.TxBytes}
	}
	return out
}

func podOf(t *testing.T, sim *Simulator, service string, replica int) ScenarioPod {
	t.Helper()
	for _, p := range sim.Scenario(nil).Pods {
		if p.Service == service && p.Replica == replica {
			return p
		}
	}
	t.Fatalf("no pod %s/%d", service, replica)
	return ScenarioPod{}
}

func TestCountersAreMonotonicBetweenScrapes(t *testing.T) {
	// A restart elsewhere must not make the node's own counters go back.
	sim := mustNew(t, DefaultConfig(), []Incident{{Kind: IncidentRestart, Service: "db", Replica: 1, Start: 50}}, 3)
	restarted := podOf(t, sim, "db", 1).Name
	prev := scrape(t, sim, 0)
	prevNode := nodeTotals(t, sim, 0)
	at := 0.0
	for i := range 400 {
		at += 0.05 + float64(i%7)*0.13 // irregular intervals, often within one simulated second
		cur := scrape(t, sim, at)
		curNode := nodeTotals(t, sim, at)
		for name, c := range cur {
			p := prev[name]
			if name == restarted && at >= 50 && at-0.05-float64(i%7)*0.13 < 50 {
				continue // the reset itself
			}
			if c.rx < p.rx || c.tx < p.tx || c.defaultRx < p.defaultRx || c.defaultTx < p.defaultTx {
				t.Fatalf("t=%.2f pod %s went back: %+v -> %+v", at, name, p, c)
			}
			for in, v := range c.ifaces {
				if v[0] < p.ifaces[in][0] || v[1] < p.ifaces[in][1] {
					t.Fatalf("t=%.2f pod %s interface %s went back", at, name, in)
				}
			}
		}
		for node, v := range curNode {
			if v[0] < prevNode[node][0] || v[1] < prevNode[node][1] {
				t.Fatalf("t=%.2f node %s went back", at, node)
			}
		}
		prev, prevNode = cur, curNode
	}
	if at < 60 {
		t.Fatalf("test covered only %v s", at)
	}
}

func TestCountersGrowAtTheConfiguredRates(t *testing.T) {
	cfg := DefaultConfig()
	sim := mustNew(t, cfg, nil, 3)
	a, b := scrape(t, sim, 100), scrape(t, sim, 1900)
	for _, p := range sim.Scenario(nil).Pods {
		var svc ServiceConfig
		for _, s := range cfg.Services {
			if s.Name == p.Service {
				svc = s
			}
		}
		in := float64(b[p.Name].rx-a[p.Name].rx) / 1800
		out := float64(b[p.Name].tx-a[p.Name].tx) / 1800
		// Within 15%: replica spread, wave and drift average out only roughly over 30 minutes.
		if math.Abs(in/svc.InBytesPerSec-1) > 0.15 || math.Abs(out/svc.OutBytesPerSec-1) > 0.15 {
			t.Errorf("%s: %.0f in/s, %.0f out/s; configured %.0f, %.0f", p.Name, in, out, svc.InBytesPerSec, svc.OutBytesPerSec)
		}
		if a[p.Name].rx == 0 {
			t.Errorf("%s: counters start at 0, want the pod's history", p.Name)
		}
	}
}

func TestTwoInterfacesSplitTrafficWithTheSameRatio(t *testing.T) {
	sim := mustNew(t, DefaultConfig(), nil, 3)
	web := podOf(t, sim, "web", 0).Name
	a, b := scrape(t, sim, 10), scrape(t, sim, 20)
	if len(b[web].ifaces) != 2 {
		t.Fatalf("web interfaces %v", b[web].ifaces)
	}
	eth0, tunl0 := b[web].ifaces["eth0"], b[web].ifaces["tunl0"]
	if b[web].defaultRx != eth0[0] || b[web].defaultTx != eth0[1] {
		t.Fatal("top-level counters are not the first interface's")
	}
	if tunl0[0] == 0 || tunl0[1] == 0 {
		t.Fatal("tunl0 carries nothing")
	}
	sumRatio := float64(b[web].rx-a[web].rx) / float64(b[web].tx-a[web].tx)
	eth0Ratio := float64(b[web].defaultRx-a[web].defaultRx) / float64(b[web].defaultTx-a[web].defaultTx)
	if math.Abs(sumRatio/eth0Ratio-1) > 1e-3 {
		t.Fatalf("ratio over all interfaces %v, default interface only %v", sumRatio, eth0Ratio)
	}
}

func TestRestartResetsCountersAndContainerStart(t *testing.T) {
	inc := []Incident{{Kind: IncidentRestart, Service: "db", Replica: 1, Start: 100}}
	sim := mustNew(t, DefaultConfig(), inc, 5)
	db := podOf(t, sim, "db", 1)
	before, after, later := scrape(t, sim, 99.9)[db.Name], scrape(t, sim, 100.5)[db.Name], scrape(t, sim, 130)[db.Name]

	// Half a second of traffic at most a few times the mean rate.
	if after.rx >= before.rx || after.rx > 260e3 || after.tx > 240e3 || after.rx == 0 {
		t.Fatalf("after restart rx=%d tx=%d, before rx=%d", after.rx, after.tx, before.rx)
	}
	if later.rx <= after.rx {
		t.Fatal("counters do not grow after the restart")
	}
	if !after.containerStart.Equal(sim.Start().Add(100*time.Second).Truncate(time.Second)) || after.containerStart.Equal(before.containerStart) {
		t.Fatalf("container start %v (before %v)", after.containerStart, before.containerStart)
	}
	if !after.podStart.Equal(before.podStart) || after.uid != before.uid || after.uid != db.UID {
		t.Fatal("the pod's identity or start time changed")
	}
	list, err := sim.PodList(db.Node, sim.Start().Add(101*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		if p.Metadata.Name == db.Name && p.Status.ContainerStatuses[0].RestartCount != 1 {
			t.Fatalf("restartCount %d", p.Status.ContainerStatuses[0].RestartCount)
		}
	}
}

func TestExfiltrationMultipliesTransmit(t *testing.T) {
	const factor = 20
	inc := []Incident{{Kind: IncidentExfiltration, Service: "web", Replica: 1, Start: 60, End: 660, Factor: factor}}
	sim := mustNew(t, DefaultConfig(), inc, 9)
	normal := mustNew(t, DefaultConfig(), nil, 9)
	web := podOf(t, sim, "web", 1).Name
	other := podOf(t, sim, "web", 0).Name

	at := func(s *Simulator, t0 float64) podCounter { return scrape(t, s, t0)[web] }
	if !reflect.DeepEqual(at(sim, 59.9), at(normal, 59.9)) {
		t.Fatal("counters differ before the incident")
	}
	incTx := float64(at(sim, 660).tx - at(sim, 60).tx)
	normTx := float64(at(normal, 660).tx - at(normal, 60).tx)
	if r := incTx / normTx; math.Abs(r/factor-1) > 0.001 {
		t.Fatalf("tx grew %.4fx, want %dx", r, factor)
	}
	if at(sim, 660).rx-at(sim, 60).rx != at(normal, 660).rx-at(normal, 60).rx {
		t.Fatal("rx changed")
	}
	// After the end, back to normal.
	incTx = float64(at(sim, 900).tx - at(sim, 660).tx)
	normTx = float64(at(normal, 900).tx - at(normal, 660).tx)
	if math.Abs(incTx/normTx-1) > 0.001 {
		t.Fatalf("after the end tx grew %.4fx the normal", incTx/normTx)
	}
	// Other replicas are untouched.
	if !reflect.DeepEqual(scrape(t, sim, 300)[other], scrape(t, normal, 300)[other]) {
		t.Fatal("another replica changed")
	}
}

func TestDownloadMultipliesReceive(t *testing.T) {
	inc := []Incident{{Kind: IncidentDownload, Service: "ingest", Replica: 0, Start: 30, Factor: 5}}
	sim := mustNew(t, DefaultConfig(), inc, 9)
	normal := mustNew(t, DefaultConfig(), nil, 9)
	p := podOf(t, sim, "ingest", 0).Name
	incRx := float64(scrape(t, sim, 330)[p].rx - scrape(t, sim, 30)[p].rx)
	normRx := float64(scrape(t, normal, 330)[p].rx - scrape(t, normal, 30)[p].rx)
	if r := incRx / normRx; math.Abs(r/5-1) > 0.001 {
		t.Fatalf("rx grew %.4fx, want 5x", r)
	}
}

func TestSameSeedSameScenarioAndCounters(t *testing.T) {
	incs, err := LoadIncidents("testdata/incidents-example.json")
	if err != nil {
		t.Fatal(err)
	}
	a := mustNew(t, DefaultConfig(), incs, 42)
	// A different wall start: counters depend on simulated time only.
	b, err := New(DefaultConfig(), incs, 42, testStart.Add(37*time.Hour+123*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	scA, scB := a.Scenario(nil), b.Scenario(nil)
	scA.StartTime, scB.StartTime = "", ""
	scA.EstateStart, scB.EstateStart = "", ""
	for i := range scA.Pods { // pod start times are relative to the start
		scA.Pods[i].StartTime, scB.Pods[i].StartTime = "", ""
	}
	for i := range scA.Incidents {
		scA.Incidents[i].StartTime, scB.Incidents[i].StartTime = "", ""
		scA.Incidents[i].EndTime, scB.Incidents[i].EndTime = "", ""
	}
	ja, _ := json.Marshal(scA)
	jb, _ := json.Marshal(scB)
	if string(ja) != string(jb) {
		t.Fatalf("scenarios differ:\n%s\n%s", ja, jb)
	}

	// a is scraped often (incremental sums), b only at the end (one long sum); they must agree.
	for at := 0.0; at < 400; at += 9.7 {
		scrape(t, a, at)
	}
	ca, cb := scrape(t, a, 400.3), scrape(t, b, 400.3)
	for name := range ca {
		ca[name] = podCounter{rx: ca[name].rx, tx: ca[name].tx, ifaces: ca[name].ifaces}
		cb[name] = podCounter{rx: cb[name].rx, tx: cb[name].tx, ifaces: cb[name].ifaces}
	}
	if !reflect.DeepEqual(ca, cb) {
		t.Fatal("same seed, same simulated time, different counters")
	}
	// Going back in time recomputes from the origin and agrees too.
	c1, c2 := scrape(t, a, 200), scrape(t, b, 200)
	for name := range c1 {
		if c1[name].rx != c2[name].rx || c1[name].tx != c2[name].tx {
			t.Fatalf("re-reading t=200 differs for %s", name)
		}
	}

	other := mustNew(t, DefaultConfig(), incs, 43)
	if reflect.DeepEqual(scrape(t, other, 400.3), scrape(t, a, 400.3)) {
		t.Fatal("a different seed gives the same counters")
	}
}
