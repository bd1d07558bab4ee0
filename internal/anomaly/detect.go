package anomaly

import (
	"math"
	"slices"
	"time"
)

// The detector's arithmetic, pure: the same input gives the same answer,
// with no clock and no database, so that its quality can be measured on
// synthetic series (detect_test.go).

// MinSamples is the fewest samples a baseline is learnt from.
const MinSamples = 24

// madScale makes the median absolute deviation estimate the standard
// deviation of normally distributed data.
const madScale = 1.4826

// Sample is one observed value of a field.
type Sample struct {
	At    time.Time
	Value float64
}

// Stats is what a baseline learnt from a field's samples.
type Stats struct {
	Samples int     `json:"samples"`
	Mean    float64 `json:"mean"`
	StdDev  float64 `json:"stdDev"`
	// SlopePerHour is the least-squares slope of the values over time.
	SlopePerHour float64 `json:"slopePerHour"`
	// Median and Spread are the robust centre and spread detection uses:
	// the median and the scaled median absolute deviation, which one past
	// incident (a minority of the samples) cannot move far.
	Median float64 `json:"median"`
	Spread float64 `json:"spread"`
	// TrendSpread is the spread of the values around their trend line,
	// what drift is measured against.
	TrendSpread float64 `json:"trendSpread"`
	// Span is the time from the first sample to the last.
	Span time.Duration `json:"-"`
}

// Learn computes the baseline of samples; ok is false with fewer than
// MinSamples.
func Learn(samples []Sample) (Stats, bool) {
	n := len(samples)
	if n < MinSamples {
		return Stats{Samples: n}, false
	}
	st := Stats{Samples: n}
	values := make([]float64, n)
	var sum float64
	for i, s := range samples {
		values[i] = s.Value
		sum += s.Value
	}
	st.Mean = sum / float64(n)
	var sq float64
	for _, v := range values {
		sq += (v - st.Mean) * (v - st.Mean)
	}
	st.StdDev = math.Sqrt(sq / float64(n))
	st.Median, st.Spread = robust(values)

	// Least squares of value against hours since the first sample.
	t0 := samples[0].At
	st.Span = samples[n-1].At.Sub(t0)
	var sx, sy, sxx, sxy float64
	for _, s := range samples {
		x := s.At.Sub(t0).Hours()
		sx += x
		sy += s.Value
		sxx += x * x
		sxy += x * s.Value
	}
	fn := float64(n)
	if d := fn*sxx - sx*sx; d != 0 {
		st.SlopePerHour = (fn*sxy - sx*sy) / d
	}
	intercept := (sy - st.SlopePerHour*sx) / fn
	residuals := make([]float64, n)
	for i, s := range samples {
		residuals[i] = s.Value - (intercept + st.SlopePerHour*s.At.Sub(t0).Hours())
	}
	_, st.TrendSpread = robust(residuals)
	return st, true
}

// robust returns the median of values and their scaled median absolute
// deviation. values is reordered.
func robust(values []float64) (median, spread float64) {
	median = medianOf(values)
	dev := make([]float64, len(values))
	for i, v := range values {
		dev[i] = math.Abs(v - median)
	}
	return median, madScale * medianOf(dev)
}

func medianOf(values []float64) float64 {
	slices.Sort(values)
	n := len(values)
	if n%2 == 1 {
		return values[n/2]
	}
	return (values[n/2-1] + values[n/2]) / 2
}

// Direction says which way a field goes wrong.
type Direction string

const (
	Higher Direction = "higher" // latency, body size: higher is worse
	Lower  Direction = "lower"  // days to expiry: lower is worse
	Both   Direction = "both"   // an answer count: any change
)

// Rule is what decides whether one value is anomalous: the margin around
// the centre and the practical floors.
type Rule struct {
	Sensitivity      float64
	Direction        Direction
	MinAbsoluteDelta float64
	MinRelativeDelta float64
}

// Verdict is one value judged against a baseline.
type Verdict struct {
	Anomalous bool
	// Deviation is how far the value is from the centre, in spreads, in
	// the field's bad direction (negative: the good one); it is the raw
	// delta when the spread is zero.
	Deviation float64
}

// Judge decides whether value leaves centre ± margin in the rule's bad
// direction, where margin = 3 × spread × sensitivity, and passes both
// floors: |value − centre| ≥ MinAbsoluteDelta and ≥ MinRelativeDelta ×
// |centre|.
func Judge(value, centre, spread float64, r Rule) Verdict {
	delta := value - centre
	bad := delta
	switch r.Direction {
	case Lower:
		bad = -delta
	case Both:
		bad = math.Abs(delta)
	}
	v := Verdict{Deviation: bad}
	if spread > 0 {
		v.Deviation = bad / spread
	}
	margin := 3 * spread * r.Sensitivity
	size := math.Abs(delta)
	v.Anomalous = bad > 0 && bad > margin && size >= r.MinAbsoluteDelta && size >= r.MinRelativeDelta*math.Abs(centre)
	return v
}

// MinDriftSpan is the least time a baseline's samples must cover for its
// trend to count as drift: over minutes, a slope is noise.
const MinDriftSpan = 12 * time.Hour

// Drifting reports whether a baseline's trend passes threshold spreads
// per day in the field's bad direction (measured against the spread
// around the trend), and the drift in spreads per day. A baseline whose
// samples cover less than MinDriftSpan never drifts.
func Drifting(st Stats, direction Direction, threshold float64) (bool, float64) {
	if st.Span < MinDriftSpan {
		return false, 0
	}
	perDay := st.SlopePerHour * 24
	switch direction {
	case Lower:
		perDay = -perDay
	case Both:
		perDay = math.Abs(perDay)
	}
	if st.TrendSpread <= 0 {
		return false, 0
	}
	rate := perDay / st.TrendSpread
	return rate >= threshold, rate
}

// State is where an episode stands.
type State string

const (
	Suspicious State = "suspicious" // anomalous, not yet confirmed
	Confirmed  State = "anomaly"    // confirmed: notified
	Recovered  State = "recovered"  // over (terminal)
	// Cleared is not stored: a suspicious episode that saw a normal value
	// is deleted, and signalled with this state.
	Cleared State = "cleared"
)

// Step is what one observation does to an episode: the state it moves it
// to ("" when nothing changes: no episode, and none to open).
//
// For spikes, an observation is one run; confirm is the
// confirmationWindow (consecutive anomalous runs to confirm) and recover
// 1 (the first normal run recovers). For drift, an observation is one
// analyzer run; confirm is 2 and recover 3 (flat runs).
func Step(open bool, state State, count, flat int, anomalous bool, confirm, recover int) (next State, newCount, newFlat int) {
	switch {
	case !open && !anomalous:
		return "", 0, 0
	case !open:
		if confirm <= 1 {
			return Confirmed, 1, 0
		}
		return Suspicious, 1, 0
	case state == Suspicious && anomalous:
		if count+1 >= confirm {
			return Confirmed, count + 1, 0
		}
		return Suspicious, count + 1, 0
	case state == Suspicious:
		return Cleared, count, 0
	case anomalous: // confirmed, still anomalous
		return Confirmed, count + 1, 0
	case flat+1 >= recover:
		return Recovered, count, flat + 1
	default:
		return Confirmed, count, flat + 1
	}
}
