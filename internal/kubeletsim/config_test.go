package kubeletsim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadExampleFiles(t *testing.T) {
	cfg, err := LoadConfig("testdata/cluster-one-node.json")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster != "e2e-cluster" || len(cfg.Nodes) != 1 || len(cfg.Services) != 4 {
		t.Fatalf("config %+v", cfg)
	}
	incs, err := LoadIncidents("testdata/incidents-example.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 3 {
		t.Fatalf("incidents %+v", incs)
	}
	// The example incidents are written for the default cluster.
	sim, err := New(DefaultConfig(), incs, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sc := sim.Scenario(nil)
	for _, in := range sc.Incidents {
		if in.Pod == "" || in.Node == "" || in.UID == "" || in.Namespace == "" || !strings.HasPrefix(in.Key, "sim-cluster:") {
			t.Errorf("unresolved incident %+v", in)
		}
	}
}

func TestLoadIncidentsAcceptsBareArray(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inc.json")
	if err := os.WriteFile(path, []byte(`[{"kind":"restart","service":"db","replica":0,"start":5}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	incs, err := LoadIncidents(path)
	if err != nil || len(incs) != 1 || incs[0].Kind != IncidentRestart {
		t.Fatalf("%v %+v", err, incs)
	}
}

func TestBadIncidentsAreRejected(t *testing.T) {
	for name, in := range map[string]Incident{
		"unknown service":   {Kind: IncidentExfiltration, Service: "nope", Factor: 2},
		"replica too high":  {Kind: IncidentExfiltration, Service: "web", Replica: 3, Factor: 2},
		"unknown kind":      {Kind: "ddos", Service: "web", Factor: 2},
		"no factor":         {Kind: IncidentDownload, Service: "web"},
		"end before start":  {Kind: IncidentDownload, Service: "web", Factor: 2, Start: 10, End: 5},
		"restart with end":  {Kind: IncidentRestart, Service: "web", Start: 10, End: 20},
		"negative start":    {Kind: IncidentRestart, Service: "web", Start: -1},
		"daemonset replica": {Kind: IncidentRestart, Service: "fluentd", Replica: 2},
	} {
		if _, err := New(DefaultConfig(), []Incident{in}, 1, time.Now()); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestBadConfigsAreRejected(t *testing.T) {
	mutate := map[string]func(*Config){
		"cluster with colon": func(c *Config) { c.Cluster = "a:b" },
		"no nodes":           func(c *Config) { c.Nodes = nil },
		"duplicate node":     func(c *Config) { c.Nodes = []string{"a", "a"} },
		"duplicate service":  func(c *Config) { c.Services = append(c.Services, c.Services[0]) },
		"bad kind":           func(c *Config) { c.Services[0].Kind = "job" },
		"no replicas":        func(c *Config) { c.Services[0].Replicas = 0 },
		"zero rate":          func(c *Config) { c.Services[0].OutBytesPerSec = 0 },
		"shares":             func(c *Config) { c.Services[0].Interfaces = []InterfaceShare{{Name: "eth0", Share: 0.5}} },
		"upper-case name":    func(c *Config) { c.Services[0].Name = "Web" },
		"jitter too big":     func(c *Config) { v := 2.0; c.Services[0].Jitter = &v },
	}
	for name, f := range mutate {
		cfg := DefaultConfig()
		f(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
