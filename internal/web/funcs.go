package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/yuin/goldmark"

	"github.com/checkstack/checkstack/internal/rpc"
)

var notFoundErr = rpc.NotFound("system", "")

func errorStatus(err error) int {
	var e *rpc.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}

// label is a status as people read it: "in_progress" → "In progress".
func label(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// icons say a status without colour: every status has its own shape.
var icons = map[string]string{"healthy": "✔", "degraded": "▲", "unhealthy": "✖", "maintenance": "⚒", "unknown": "?",
	"investigating": "◌", "identified": "◉", "fixing": "⚒", "monitoring": "◑", "resolved": "✔",
	"scheduled": "◷", "in_progress": "⚒", "completed": "✔", "cancelled": "⊘"}

var markdown = goldmark.New() // HTML in the source is escaped, not passed through

func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"label":    label,
		"asset":    func(name string) string { return h.assets[name] },
		"icon":     func(s string) string { return icons[s] },
		"status":   displayStatus,
		"markdown": markdownHTML,
		"when":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 MST") },
		"whenp": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.UTC().Format("2 Jan 2006 15:04 MST")
		},
		"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"ago": func(t *time.Time) string {
			if t == nil {
				return "never"
			}
			return ago(h.now().Sub(*t))
		},
		"pct":       func(f float64) string { return fmt.Sprintf("%.2f%%", f) },
		"pctp":      func(f *float64) string { return fmt.Sprintf("%.1f%%", *f) },
		"ms":        func(f float64) string { return fmt.Sprintf("%.0f ms", f) },
		"uptimeBar": uptimeBar,
		"chart":     chart,
		"name": func(names map[string]string, id string) string {
			if n, ok := names[id]; ok {
				return n
			}
			return id
		},
		"contains":  slices.Contains[[]string],
		"deref64":   func(f *float64) float64 { return *f },
		"hasPrefix": strings.HasPrefix,
		"slug":      slug,
		"dict":      dict,
		"pairs":     pairs,
		"statusOrder": func() []string {
			return []string{"unhealthy", "degraded", "maintenance", "healthy", "unknown"}
		},
		"successRate":   successRate,
		"systemOptions": systemOptions,
		"systemName": func(ss []system, id string) string {
			for _, s := range ss {
				if s.ID == id {
					return s.Name
				}
			}
			return id
		},
		"channelValue": channelValue,
		"showing": func(a announcement) string {
			now := h.now()
			switch {
			case !a.Active:
				return "switched off"
			case a.ExpiresAt != nil && !a.ExpiresAt.After(now):
				return "expired"
			case a.StartsAt != nil && a.StartsAt.After(now):
				return "scheduled"
			}
			return "showing"
		},
		"uptimeTotal": func(ds []day) string {
			var runs, failures int64
			for _, d := range ds {
				runs, failures = runs+d.Runs, failures+d.Failures
			}
			return successShare(runs, failures, "no data")
		},
	}
}

// markdownHTML is Markdown as HTML; raw HTML in it is left out (goldmark
// does so unless told otherwise), and links are only what goldmark lets
// through.
func markdownHTML(s string) template.HTML {
	var b bytes.Buffer
	if err := markdown.Convert([]byte(s), &b); err != nil {
		return template.HTML(template.HTMLEscapeString(s))
	}
	return template.HTML(b.String())
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
}

// uptimeBar draws days of uptime as an SVG row of bars, one a day, each
// with its date and figure as a tooltip and a class by how good it was
// (the figure, not only the colour, is in the title and the summary).
func uptimeBar(days []day) template.HTML {
	if len(days) == 0 {
		return ""
	}
	const w, gap, height = 4, 1, 24
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="uptime" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="daily uptime, %d days">`,
		len(days)*(w+gap), height, len(days))
	for i := 0; i < len(days); i++ {
		d := days[i]
		if d.Uptime == nil {
			// A run of days without data is one bar: a new system's row
			// stays small.
			j := i
			for j+1 < len(days) && days[j+1].Uptime == nil {
				j++
			}
			span := d.Date
			if j > i {
				span += " – " + days[j].Date
			}
			fmt.Fprintf(&b, `<rect class="nodata" x="%d" y="0" width="%d" height="%d"><title>%s: no data</title></rect>`,
				i*(w+gap), (j-i+1)*(w+gap)-gap, height, template.HTMLEscapeString(span))
			i = j
			continue
		}
		class := "bad"
		switch {
		case *d.Uptime >= 99.9:
			class = "good"
		case *d.Uptime >= 99:
			class = "fair"
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%d" y="0" width="%d" height="%d"><title>%s: %.2f%%</title></rect>`,
			class, i*(w+gap), w, height, template.HTMLEscapeString(d.Date), *d.Uptime)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// chart draws a check's history from from to to: average and p95 latency
// as lines (dots where a bucket stands alone) over bars of the failed
// share, each bucket at its time and as wide as it lasts, in an SVG that
// scales to its box. Time without a bucket stays empty.
func chart(bs []bucket, from, to time.Time) template.HTML {
	if len(bs) == 0 {
		return template.HTML(`<p class="muted">No runs in this range yet.</p>`)
	}
	const width, height, pad = 600.0, 160.0, 4.0
	top := 1.0
	for _, x := range bs {
		top = math.Max(top, x.P95LatencyMs)
	}
	span := to.Sub(from)
	if span <= 0 {
		span = time.Hour
	}
	// A bucket lasts the least gap between two, and at least an hour (the
	// aggregates' own); a lone one an hour.
	var last time.Duration
	for i := 1; i < len(bs); i++ {
		if gap := bs[i].Start.Sub(bs[i-1].Start); last == 0 || gap < last {
			last = gap
		}
	}
	last = max(last, time.Hour)
	x := func(t time.Time) float64 {
		return pad + math.Min(math.Max(float64(t.Sub(from))/float64(span), 0), 1)*(width-2*pad)
	}
	slot := math.Max(float64(last)/float64(span)*(width-2*pad), 2)
	y := func(ms float64) float64 { return height - pad - ms/top*(height-2*pad) }
	var avg, p95, marks strings.Builder
	for _, b := range bs {
		left := math.Min(x(b.Start), width-pad-slot)
		mid := left + slot/2
		when := b.Start.UTC().Format("2 Jan 15:04")
		if b.Runs > 0 && b.Failures > 0 {
			h := float64(b.Failures) / float64(b.Runs) * (height - 2*pad)
			fmt.Fprintf(&marks, `<rect class="fail" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d of %d runs failed</title></rect>`,
				left, height-pad-h, math.Max(slot-1, 1), h, when, b.Failures, b.Runs)
		}
		if b.Runs == 0 {
			continue
		}
		fmt.Fprintf(&avg, "%.1f,%.1f ", mid, y(b.AvgLatencyMs))
		fmt.Fprintf(&p95, "%.1f,%.1f ", mid, y(b.P95LatencyMs))
		if len(bs) == 1 {
			// A dot: a zero-length line with a round cap, round however
			// the box stretches the drawing.
			fmt.Fprintf(&marks, `<polyline class="p95 dot" points="%.1f,%.1f %.1f,%.1f"/><polyline class="avg dot" points="%.1f,%.1f %.1f,%.1f"/>`,
				mid, y(b.P95LatencyMs), mid, y(b.P95LatencyMs), mid, y(b.AvgLatencyMs), mid, y(b.AvgLatencyMs))
		}
		fmt.Fprintf(&marks, `<rect class="hit" x="%.1f" y="0" width="%.1f" height="%.0f"><title>%s: %d runs, average %.0f ms, p95 %.0f ms</title></rect>`,
			left, slot, height, when, b.Runs, b.AvgLatencyMs, b.P95LatencyMs)
	}
	return template.HTML(fmt.Sprintf(`<svg class="chart" viewBox="0 0 %.0f %.0f" preserveAspectRatio="none" role="img" aria-label="latency, up to %.0f ms">`+
		`<polyline class="p95" points="%s"/><polyline class="avg" points="%s"/>%s</svg>`+
		`<p class="axis muted small"><span>%s</span><span>top: %.0f ms</span><span>%s</span></p>`,
		width, height, top, p95.String(), avg.String(), marks.String(), from.UTC().Format("2 Jan 15:04"), top, to.UTC().Format("2 Jan 15:04 MST")))
}

// slug is text as an id attribute: letters, digits and dashes.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// dict makes a map of its key, value arguments, for a template that takes
// several.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict: odd arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// pairs makes a select's options of value, label arguments.
func pairs(vl ...string) [][2]string {
	out := make([][2]string, 0, len(vl)/2)
	for i := 0; i+1 < len(vl); i += 2 {
		out = append(out, [2]string{vl[i], vl[i+1]})
	}
	return out
}

// systemOptions are the systems as a select's options, after a first
// empty one labelled none when none is not "".
func systemOptions(ss []system, none string) [][2]string {
	var out [][2]string
	if none != "" {
		out = append(out, [2]string{"", none})
	}
	for _, s := range ss {
		out = append(out, [2]string{s.ID, s.Name})
	}
	return out
}

// successRate is the share of successful runs in the buckets.
func successRate(bs []bucket) string {
	var runs, failures int64
	for _, b := range bs {
		runs, failures = runs+b.Runs, failures+b.Failures
	}
	return successShare(runs, failures, "no runs")
}

// successShare is the share of runs that did not fail, as a percentage,
// or none when there were no runs.
func successShare(runs, failures int64, none string) string {
	if runs == 0 {
		return none
	}
	return fmt.Sprintf("%.2f%%", float64(runs-failures)/float64(runs)*100)
}
