package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// outputBuffer collects a process's output; the process writes while the test reads.
type outputBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail is the last n lines, enough to see why a process failed without flooding the log.
func (b *outputBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// process is a child started in its own process group, so that stopping it reaches anything it spawned.
type process struct {
	name   string
	cmd    *exec.Cmd
	stdout outputBuffer
	stderr outputBuffer
	done   chan struct{} // closed when the process has exited and been reaped
	err    error         // Wait's result, valid after done

	mu     sync.Mutex
	reaped bool // set just before reaping: from then on the group id may belong to someone else
}

// startProcess starts path and stops it when the test ends, dumping its output if the test failed.
func startProcess(t testing.TB, name, path string, args ...string) *process {
	t.Helper()
	p := &process{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	// Pdeathsig covers a test binary that dies without running its cleanups (e.g. -timeout).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Wait returns even if a grandchild kept the output pipes open.
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go p.reap()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			p.dump(t)
		}
	})
	return p
}

// reap waits for the leader to exit, kills what is left of its group while the leader's zombie
// still holds the group id, then reaps it.
func (p *process) reap() {
	pid := p.cmd.Process.Pid
	var info unix.Siginfo
	for unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
	}
	p.mu.Lock()
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	p.reaped = true
	p.mu.Unlock()
	p.err = p.cmd.Wait()
	close(p.done)
}

// signal sends sig to the process group unless the leader is already gone.
func (p *process) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop ends the process group gracefully (SIGTERM lets the collector flush and save its state),
// then forcefully; it returns once the process has exited.
func (p *process) stop(t testing.TB) {
	t.Helper()
	if done, _ := p.exited(); done {
		return
	}
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Errorf("%s did not exit within 20s of SIGTERM; killing it", p.name)
		p.signal(syscall.SIGKILL)
		<-p.done
	}
}

// stopClean is stop for a process whose exit status matters, such as a collector that must shut down cleanly.
func (p *process) stopClean(t testing.TB) {
	t.Helper()
	p.stop(t)
	if p.err != nil {
		t.Errorf("%s did not exit cleanly: %v", p.name, p.err)
	}
}

func (p *process) dump(t testing.TB) {
	t.Helper()
	t.Logf("--- %s stdout (tail) ---\n%s", p.name, p.stdout.tail(40))
	t.Logf("--- %s stderr (tail) ---\n%s", p.name, p.stderr.tail(80))
}
