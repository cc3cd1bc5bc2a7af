package kubeletsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Handler serves one node's kubelet endpoints; node must be one of s.Nodes().
func (s *Simulator) Handler(node string) http.Handler {
	if !s.hasNode(node) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, fmt.Sprintf("no node %q in the cluster", node), http.StatusNotFound)
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats/summary", func(w http.ResponseWriter, r *http.Request) {
		// The kubelet's only_cpu_and_memory parameter is not honoured: the receiver never sets it.
		// The clock is read under the lock, so concurrent scrapes advance the counters in time
		// order and never force a recomputation from the start.
		s.mu.Lock()
		sum := s.summaryLocked(node, s.now())
		s.mu.Unlock()
		writeJSON(w, sum, nil)
	})
	mux.HandleFunc("GET /pods", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		at := s.now()
		s.mu.Unlock()
		list, err := s.PodList(node, at)
		writeJSON(w, list, err)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// Server is the set of per-node listeners of one Simulator.
type Server struct {
	sim       *Simulator
	listeners []NodeListener
}

// NodeListener is one node's bound listener.
type NodeListener struct {
	Node     string
	Listener net.Listener
}

// Listen binds one listener per node (all nodes when nodes is empty): the first at addr,
// the following on consecutive ports, or each on its own ephemeral port when addr's port is 0.
// Binding before serving lets a caller publish the addresses before any scrape can arrive.
func (s *Simulator) Listen(addr string, nodes []string) (*Server, error) {
	if len(nodes) == 0 {
		nodes = s.nodes
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("listen address %q: bad port", addr)
	}
	srv := &Server{sim: s}
	for i, node := range nodes {
		if !s.hasNode(node) {
			srv.closeListeners()
			return nil, fmt.Errorf("no node %q in the cluster", node)
		}
		p := 0
		if port != 0 {
			p = port + i
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			srv.closeListeners()
			return nil, fmt.Errorf("node %s: %w", node, err)
		}
		srv.listeners = append(srv.listeners, NodeListener{Node: node, Listener: l})
	}
	return srv, nil
}

// Listeners are the bound listeners, in node order.
func (srv *Server) Listeners() []NodeListener { return srv.listeners }

// Addrs maps each served node to its listener's address.
func (srv *Server) Addrs() map[string]string {
	m := map[string]string{}
	for _, nl := range srv.listeners {
		m[nl.Node] = nl.Listener.Addr().String()
	}
	return m
}

func (srv *Server) closeListeners() {
	for _, nl := range srv.listeners {
		_ = nl.Listener.Close()
	}
}

// Serve serves every listener until ctx is done, then shuts down gracefully, letting
// in-flight requests finish for up to 5 seconds. It returns nil after a clean shutdown.
func (srv *Server) Serve(ctx context.Context) error {
	servers := make([]*http.Server, len(srv.listeners))
	errs := make(chan error, len(srv.listeners))
	var wg sync.WaitGroup
	for i, nl := range srv.listeners {
		servers[i] = &http.Server{Handler: srv.sim.Handler(nl.Node), ReadHeaderTimeout: 10 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := servers[i].Serve(nl.Listener); !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("node %s: %w", nl.Node, err)
			}
		}()
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-errs: // one listener failing stops them all: a partial cluster would mislead a test
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, hs := range servers {
		if serr := hs.Shutdown(shutdownCtx); serr != nil && err == nil {
			err = serr
		}
	}
	wg.Wait()
	return err
}
