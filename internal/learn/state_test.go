package learn

import (
	"strings"
	"testing"
	"time"
)

func TestStateRoundTrip(t *testing.T) {
	data := gen(11, 3, 200)
	cfg := Config{Volumes: true}
	l := New(cfg)
	feed(l, data, 1)
	days, err := l.MarshalDays()
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 3 {
		t.Fatalf("%d entries", len(days))
	}
	r := New(cfg)
	for name, b := range days {
		if err := r.RestoreDay(name, b); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := csvOf(t, r.Table()), csvOf(t, l.Table()); got != want {
		t.Errorf("restored table differs:\n%s\nvs\n%s", got, want)
	}
	// Data replayed after the restart for spans already learned is not counted twice.
	last := data[len(data)-1]
	r.Observe(last.key, last.pod, last.start, 1, 1, true, true)
	if r.Stats().Late != 1 {
		t.Error("replayed span accepted after restore")
	}
	// A later span still counts.
	r.Observe(last.key, last.pod, last.start.Add(span), 1, 1, true, true)
	r.Advance(last.start.Add(3 * span))
	if got, want := r.Table().Rows[last.key].Count, l.Table().Rows[last.key].Count+1; got != want {
		t.Errorf("count %d, want %d", got, want)
	}
}

func TestRestoreDamagedEntry(t *testing.T) {
	l := New(Config{})
	feed(l, gen(12, 3, 100), 1)
	days, err := l.MarshalDays()
	if err != nil {
		t.Fatal(err)
	}
	const victim = "day/2026-11-02"
	good := string(days[victim])
	damaged := map[string]string{
		"truncated":      good[:len(good)/2],
		"trailing":       good + "}",
		"not json":       "\x00\x01garbage",
		"negative n":     strings.Replace(good, `"n":`, `"n":-`, 1),
		"other day":      strings.Replace(good, `"day":"2026-11-02"`, `"day":"2026-11-03"`, 1),
		"unknown field":  strings.Replace(good, `"version":2`, `"version":2,"extra":true`, 1),
		"future version": strings.Replace(good, `"version":2`, `"version":3`, 1),
		"version 0":      strings.Replace(good, `"version":2`, `"version":0`, 1),
		"other mode":     strings.Replace(good, `"per_pod":false`, `"per_pod":true`, 1),
	}
	for what, bad := range damaged {
		r := New(Config{})
		for name, b := range days {
			if name != victim {
				if err := r.RestoreDay(name, b); err != nil {
					t.Fatal(err)
				}
			}
		}
		before := csvOf(t, r.Table())
		err := r.RestoreDay(victim, []byte(bad))
		if err == nil || !strings.Contains(err.Error(), `"`+victim+`"`) {
			t.Errorf("%s: got %v, want an error naming %s", what, err, victim)
		}
		if after := csvOf(t, r.Table()); after != before {
			t.Errorf("%s: a damaged entry changed the other days", what)
		}
	}
	// Also when the day was already loaded: it stays as it was.
	r := New(Config{})
	for name, b := range days {
		r.RestoreDay(name, b)
	}
	before := csvOf(t, r.Table())
	if err := r.RestoreDay(victim, []byte(good[:10])); err == nil {
		t.Error("no error")
	}
	if csvOf(t, r.Table()) != before {
		t.Error("a damaged entry changed its loaded day")
	}
	if err := r.RestoreDay("day/2026-13-01", []byte(good)); err == nil || !strings.Contains(err.Error(), "day/2026-13-01") {
		t.Errorf("bad name: %v", err)
	}
}

func TestRestoreSkipsAgedOutDay(t *testing.T) {
	old := New(Config{})
	old.Observe("c:s", "p", base, 1, 1, true, true)
	old.Advance(base.Add(2 * span))
	entries, _ := old.MarshalDays()
	l := New(Config{Days: 2})
	l.Observe("c:s", "p", base.Add(5*24*time.Hour), 1, 1, true, true)
	l.Advance(base.Add(5*24*time.Hour + 2*span))
	for name, b := range entries {
		if err := l.RestoreDay(name, b); err != nil {
			t.Fatal(err)
		}
	}
	if st := l.Stats(); st.Days != 1 {
		t.Errorf("aged-out day restored: %+v", st)
	}
}
