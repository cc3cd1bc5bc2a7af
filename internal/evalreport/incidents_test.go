package evalreport

import (
	"strings"
	"testing"
	"time"
)

func TestParseIncidents(t *testing.T) {
	want := []Incident{
		{Namespace: "shop", Pod: "web-1", Start: time.Unix(1674990000, 0).UTC(), End: time.Unix(1674990600, 0).UTC(), Kind: Exfiltration},
		{Pod: "cache-2", Start: time.Date(2023, 1, 29, 14, 0, 0, 0, time.UTC), End: time.Date(2023, 1, 29, 14, 10, 0, 0, time.UTC), Kind: Download},
	}
	for name, text := range map[string]string{
		"csv": "\ufeffkind,pod,start,end\r\n" +
			"exfiltration,shop/web-1,1674990000,1674990600\r\n" +
			"download, cache-2 ,2023-01-29T15:00:00+01:00,2023-01-29T14:10:00Z\r\n",
		"jsonl": `{"pod":"shop/web-1","start":1674990000,"end":"1674990600","kind":"exfiltration"}` + "\n\n" +
			`{"pod":"cache-2","start":"2023-01-29T14:00:00Z","end":"2023-01-29T14:10:00Z","kind":"download"}` + "\n",
	} {
		got, err := ParseIncidents(strings.NewReader(text), "labels."+name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d incidents, want %d", name, len(got), len(want))
		}
		for i := range want {
			g := got[i]
			g.Origin = ""
			if g != want[i] {
				t.Errorf("%s: incident %d = %+v, want %+v", name, i, g, want[i])
			}
		}
		if line := map[string]string{"csv": "labels.csv:3", "jsonl": "labels.jsonl:3"}[name]; got[1].Origin != line {
			t.Errorf("%s: origin %q, want %q", name, got[1].Origin, line)
		}
	}
}

func TestParseIncidentsErrors(t *testing.T) {
	for text, want := range map[string]string{
		"pod,start,end\nx,1,2\n":                                      `f:1: the header has no "kind" column`,
		"pod,start,end,kind\nx,1,2,exfiltration\nx,5,3,download\n":    "f:3: end 1970-01-01T00:00:03Z is not after start",
		"pod,start,end,kind\nx,yesterday,2,download\n":                `f:2: start: "yesterday": want RFC 3339`,
		"pod,start,end,kind\nx,1,2,ddos\n":                            `f:2: kind "ddos": want exfiltration or download`,
		"pod,start,end,kind\n/x,1,2,download\n":                       `f:2: pod "/x": want namespace/pod or pod`,
		`{"pod":"x","start":1,"end":2,"kind":"download","sevrity":3}`: `f:1: json: unknown field "sevrity"`,
	} {
		_, err := ParseIncidents(strings.NewReader(text), "f")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", text, err, want)
		}
	}
}
