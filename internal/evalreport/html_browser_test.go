package evalreport

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserPath finds Debian's headless Chromium, or the full browser as a fallback.
func browserPath() string {
	for _, name := range []string{"chromium-headless-shell", "/usr/lib/chromium/chromium-headless-shell", "chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts a headless Chromium with a fresh profile and collects what the page reports
// as errors: console.error calls, uncaught exceptions and error log entries (a failed load).
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path := browserPath()
	if path == "" {
		t.Skip("chromium-headless-shell not installed; `apt-get install chromium-headless-shell` to run the report's browser test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // CI runs as root, where Chromium refuses its sandbox
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(ctx)
	t.Cleanup(cancelCtx)

	// Subscribed before the first page loads, so that nothing the page reports is lost.
	messages := chromedp.Console(ctx)
	var mu sync.Mutex
	var problems []string
	go func() {
		for m, err := range messages {
			if err != nil {
				return // the test is over
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				problems = append(problems, m.String()+" "+m.URL)
				mu.Unlock()
			}
		}
	}()
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

type rect struct{ W, H float64 }

const chartRects = `Array.from(document.querySelectorAll("svg")).map(s => { const r = s.getBoundingClientRect(); return {W: r.width, H: r.height}; })`

func TestReportInBrowser(t *testing.T) {
	ctx, problems := browser(t)

	// The error collection itself must work, or a clean result below would prove nothing.
	bad := filepath.Join(t.TempDir(), "bad.html")
	if err := os.WriteFile(bad, []byte(`<!DOCTYPE html><script>console.error("broken chart")</script>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+bad)); err != nil {
		t.Fatalf("starting the browser or loading a page: %v", err)
	}
	// Console events arrive asynchronously; wait for this one rather than for a fixed time.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(strings.Join(problems(), "\n"), "broken chart"); {
		if time.Now().After(deadline) {
			t.Fatalf("a page calling console.error was not noticed (got %q)", problems())
		}
		time.Sleep(20 * time.Millisecond)
	}
	seen := len(problems())

	data, incidents, results := reportCase(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, data, incidents, results); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+page), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	rects, err := chromedp.Run(ctx, chromedp.Evaluate[[]rect](chartRects))
	if err != nil {
		t.Fatal(err)
	}
	// A marker logged after the page's own messages: once it is seen, so is anything the page reported.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`console.error("end of report check")`)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(strings.Join(problems()[seen:], "\n"), "end of report check"); {
		if time.Now().After(deadline) {
			t.Fatalf("the end marker never arrived (got %q)", problems()[seen:])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if title != "k8snetio eval" {
		t.Errorf("title %q: the page did not load as the report", title)
	}
	if want := strings.Count(buf.String(), "<svg"); len(rects) != want || want == 0 {
		t.Errorf("the browser found %d charts, the report has %d", len(rects), want)
	}
	for i, r := range rects {
		if !(r.W > 0 && r.H > 0) {
			t.Errorf("chart %d rendered %vx%v", i, r.W, r.H)
		}
	}
	if got := problems()[seen:]; len(got) > 1 {
		t.Errorf("the report logged errors:\n%s", strings.Join(got, "\n"))
	}
}
