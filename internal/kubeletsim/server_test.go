package kubeletsim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestServerServesEveryNodeAndStopsCleanly(t *testing.T) {
	sim, err := New(DefaultConfig(), nil, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sim.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	addrs := srv.Addrs()
	if len(addrs) != 2 {
		t.Fatalf("addrs %v", addrs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	for node, addr := range addrs {
		code, body := get(t, "http://"+addr+"/stats/summary")
		if code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", node, code, body)
		}
		var sum Summary
		if err := json.Unmarshal(body, &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Node.NodeName != node || len(sum.Pods) == 0 || sum.Pods[0].Network == nil {
			t.Fatalf("%s: summary %s", node, body)
		}
		if code, body := get(t, "http://"+addr+"/pods"); code != http.StatusOK || !strings.Contains(string(body), `"kind":"PodList"`) {
			t.Fatalf("%s: /pods %d %s", node, code, body)
		}
		if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK || string(body) != "ok" {
			t.Fatalf("%s: /healthz %d %s", node, code, body)
		}
		if code, _ := get(t, "http://"+addr+"/nope"); code != http.StatusNotFound {
			t.Fatalf("%s: unknown path gave %d", node, code)
		}
		resp, err := http.Post("http://"+addr+"/stats/summary", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("POST gave %d", resp.StatusCode)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	for _, addr := range addrs {
		if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
			t.Fatalf("%s still answers after shutdown", addr)
		}
	}
}

func TestServedCountersFollowTheClock(t *testing.T) {
	sim := mustNew(t, DefaultConfig(), nil, 11)
	direct := mustNew(t, DefaultConfig(), nil, 11)
	var now time.Time
	sim.SetClock(func() time.Time { return now })
	h := sim.Handler("sim-node-2")
	var prev uint64
	for _, at := range []float64{0, 0.4, 3, 10, 10.01, 250} {
		now = sim.Start().Add(seconds(at))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats/summary", nil))
		var got Summary
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		want, _ := direct.Summary("sim-node-2", now)
		if *got.Pods[0].Network.RxBytes != *want.Pods[0].Network.RxBytes || *got.Node.Network.TxBytes != *want.Node.Network.TxBytes {
			t.Fatalf("t=%v: served and computed counters differ", at)
		}
		if *got.Node.Network.RxBytes < prev {
			t.Fatalf("t=%v: node rx went back", at)
		}
		prev = *got.Node.Network.RxBytes
	}
	rec := httptest.NewRecorder()
	sim.Handler("nope").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats/summary", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("unknown node: %d", rec.Code)
	}
}

func TestListenOnConsecutivePortsAndRejectsUnknownNodes(t *testing.T) {
	sim := mustNew(t, DefaultConfig(), nil, 1)
	if _, err := sim.Listen("127.0.0.1:0", []string{"nope"}); err == nil {
		t.Fatal("unknown node: want an error")
	}
	// Find a free port pair by trying a few bases; another process may hold one.
	for base := 42000; base < 42100; base += 2 {
		srv, err := sim.Listen("127.0.0.1:"+strconv.Itoa(base), nil)
		if err != nil {
			continue
		}
		addrs := srv.Addrs()
		srv.closeListeners()
		if addrs["sim-node-1"] != "127.0.0.1:"+strconv.Itoa(base) || addrs["sim-node-2"] != "127.0.0.1:"+strconv.Itoa(base+1) {
			t.Fatalf("addrs %v", addrs)
		}
		return
	}
	t.Skip("no free consecutive ports")
}

func TestWriteFileAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scenario.json")
	if err := WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write([]byte("one")); return err }); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write([]byte("two")); return err }); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "two" {
		t.Fatalf("%q %v", data, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}
