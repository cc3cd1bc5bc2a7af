package evalreport

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// point is one value at one time in a chart.
type point struct {
	t time.Time
	v float64
}

// line is one plotted series.
type line struct {
	name, color string
	pts         []point
}

// chart is one small multiple: lines over [from, to) on a log scale, an optional horizontal
// threshold, highlighted points and shaded incident intervals.
type chart struct {
	title      string
	from, to   time.Time
	lines      []line
	threshold  float64 // 0: none
	thrLabel   string
	marks      []point // drawn as red dots: the spans above the threshold
	shades     [][2]time.Time
	emptyLabel string // shown when nothing is positive, so the chart still says why it is blank
}

const (
	chartW, chartH                          = 540, 180
	padLeft, padRight, padTop, padBottom    = 58, 20, 24, 26
	plotW, plotH                            = chartW - padLeft - padRight, chartH - padTop - padBottom
	colorIn, colorOut, colorThr, colorAlarm = "#1f6fb4", "#e07b00", "#555", "#d11a2a"
)

// svg renders the chart; a log scale because rates and ratios span decades and an x10 attack
// must show as a step, not as a flat line next to a spike.
func (c *chart) svg() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		chartW, chartH, chartW, chartH, esc(c.title))
	fmt.Fprintf(&b, `<text x="%d" y="15" class="title">%s</text>`, padLeft, esc(c.title))
	span := c.to.Sub(c.from).Seconds()
	x := func(t time.Time) float64 { return padLeft + plotW*t.Sub(c.from).Seconds()/span }

	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range c.lines {
		for _, p := range l.pts {
			if p.v > 0 {
				lo, hi = math.Min(lo, p.v), math.Max(hi, p.v)
			}
		}
	}
	if c.threshold > 0 {
		lo, hi = math.Min(lo, c.threshold), math.Max(hi, c.threshold)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="plot"/>`, padLeft, padTop, plotW, plotH)
	for _, s := range c.shades {
		x0, x1 := math.Max(x(s[0]), padLeft), math.Min(x(s[1]), padLeft+plotW)
		if x1 > x0 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" class="incident"><title>incident %s to %s</title></rect>`,
				x0, padTop, x1-x0, plotH, s[0].Format("15:04:05"), s[1].Format("15:04:05"))
		}
	}
	c.xAxis(&b, x)
	if math.IsInf(lo, 1) {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="empty">%s</text></svg>`, padLeft+12, padTop+plotH/2, esc(c.emptyLabel))
		return b.String()
	}
	e0, e1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if e1 <= e0 {
		e1 = e0 + 1
	}
	y := func(v float64) float64 { return padTop + plotH*(1-(math.Log10(v)-e0)/(e1-e0)) }
	step := math.Max(1, math.Ceil((e1-e0)/5))
	for e := e0; e <= e1; e += step {
		yy := y(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="ytick">%s</text>`,
			padLeft, padLeft+plotW, yy, yy, padLeft-4, yy+3, esc(siNumber(math.Pow(10, e))))
	}
	if c.threshold > 0 {
		yy := y(c.threshold)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="threshold" stroke="%s"/><text x="%d" y="%.1f" class="thrlabel">%s</text>`,
			padLeft, padLeft+plotW, yy, yy, colorThr, padLeft+plotW-4, yy-3, esc(c.thrLabel))
	}
	for _, l := range c.lines {
		var d strings.Builder
		pen := false
		for _, p := range l.pts {
			if !(p.v > 0) {
				pen = false // a gap: zero or undefined has no place on a log scale
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f %.1f ", cmd, x(p.t), y(p.v))
			pen = true
		}
		if d.Len() > 0 {
			fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"><title>%s</title></path>`,
				strings.TrimSpace(d.String()), l.color, esc(l.name))
		}
	}
	for _, p := range c.marks {
		if p.v > 0 {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %s</title></circle>`,
				x(p.t), y(p.v), colorAlarm, p.t.Format("15:04:05"), esc(formatValue(p.v)))
		}
	}
	// Legend, top right, in the lines' colours.
	lx := float64(chartW - padRight)
	for i := len(c.lines) - 1; i >= 0; i-- {
		l := c.lines[i]
		fmt.Fprintf(&b, `<text x="%.0f" y="15" class="legend" fill="%s">%s</text>`, lx, l.color, esc(l.name))
		lx -= float64(7*len(l.name) + 14)
	}
	b.WriteString("</svg>")
	return b.String()
}

// xAxis draws UTC clock ticks at a round step giving at most seven of them.
func (c *chart) xAxis(b *strings.Builder, x func(time.Time) float64) {
	total := c.to.Sub(c.from)
	step := time.Minute
	for _, s := range []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
		15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour} {
		step = s
		if total/s <= 6 {
			break
		}
	}
	for t := c.from.Truncate(step); !t.After(c.to); t = t.Add(step) {
		if t.Before(c.from) {
			continue
		}
		xx := x(t)
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="tick"/><text x="%.1f" y="%d" class="xtick">%s</text>`,
			xx, xx, padTop+plotH, padTop+plotH+4, xx, chartH-8, t.UTC().Format("15:04"))
	}
}

// siNumber labels a power of ten compactly: 0.01, 1, 100, 10k, 1M.
func siNumber(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%gG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

// formatValue prints a plotted value with three significant digits.
func formatValue(v float64) string { return fmt.Sprintf("%.3g", v) }

func esc(s string) string { return html.EscapeString(s) }
