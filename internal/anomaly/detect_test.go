package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The detector measured on seeded synthetic series, with no wall clock:
// one run a minute, the baseline learnt every hour from the last 7 days
// (as the analyzer does), spikes judged on every run (as the detector
// does). The figures these tests log are the ones docs/BENCHMARKS.md
// reports:
//
//	go test -run 'Detect' -v ./internal/anomaly/

var simStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	simEvery  = time.Minute
	simWindow = 7 * 24 * time.Hour
)

// baselineKind picks the centre and spread a simulated detector judges
// by: the robust pair it ships with, or mean and standard deviation, to
// show what the robust pair buys.
type baselineKind int

const (
	robustBaseline baselineKind = iota
	meanBaseline
)

// episode is one confirmed anomaly of a simulation, by run index.
type episode struct {
	confirmed, recovered int // recovered -1: still open at the end
}

// simulate feeds values (one a minute) to a spike detector with the
// default latency rule and confirmationWindow 3, and returns the
// confirmed episodes.
func simulate(values []float64, kind baselineKind) []episode {
	rule := Rule{Sensitivity: 1, Direction: Higher, MinAbsoluteDelta: 10, MinRelativeDelta: 0.25}
	const confirm = 3
	var eps []episode
	var st Stats
	have := false
	open, state, count, flat := false, State(""), 0, 0
	confirmedAt := -1
	for i, v := range values {
		at := simStart.Add(time.Duration(i) * simEvery)
		if i%60 == 0 { // the hourly analyzer
			from := max(0, i-int(simWindow/simEvery))
			samples := make([]Sample, 0, i-from)
			for k := from; k < i; k++ {
				samples = append(samples, Sample{At: simStart.Add(time.Duration(k) * simEvery), Value: values[k]})
			}
			st, have = Learn(samples)
		}
		_ = at
		if !have {
			continue
		}
		centre, spread := st.Median, st.Spread
		if kind == meanBaseline {
			centre, spread = st.Mean, st.StdDev
		}
		verdict := Judge(v, centre, spread, rule)
		next, c, f := Step(open, state, count, flat, verdict.Anomalous, confirm, 1)
		switch next {
		case "":
		case Cleared:
			open = false
		case Recovered:
			open = false
			eps = append(eps, episode{confirmedAt, i})
		default:
			if next == Confirmed && state != Confirmed {
				confirmedAt = i
			}
			open, state, count, flat = true, next, c, f
		}
		if !open {
			state, count, flat = "", 0, 0
		}
	}
	if open && state == Confirmed {
		eps = append(eps, episode{confirmedAt, -1})
	}
	return eps
}

// lognormal returns n latencies around median ms with log-scale sigma.
func lognormal(r *rand.Rand, n int, median, sigma float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = median * math.Exp(sigma*r.NormFloat64())
	}
	return out
}

// robustSpread is the spread the detector would learn from values.
func robustSpread(values []float64) float64 {
	_, s := robust(append([]float64(nil), values...))
	return s
}

func TestDetectAStationarySeriesRaisesAlmostNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := lognormal(r, 20000, 100, 0.2)
	eps := simulate(values, robustBaseline)
	t.Logf("stationary lognormal latency (median 100 ms, σ_log 0.2), 20,000 runs: %d confirmed anomalies", len(eps))
	if len(eps) > 2 {
		t.Fatalf("%d confirmed anomalies on a stationary series, want at most 2: %+v", len(eps), eps)
	}
}

func TestDetectCatchesEveryInjectedSpikeAtOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	values := lognormal(r, 20000, 100, 0.2)
	spread := robustSpread(values[:1440])
	const spikes, length, every, first = 20, 4, 600, 1440
	for k := range spikes {
		for j := range length {
			values[first+k*every+j] += 6 * spread
		}
	}
	eps := simulate(values, robustBaseline)
	caught, false_ := 0, 0
	for _, ep := range eps {
		k := (ep.confirmed - first) / every
		start := first + k*every
		switch {
		case ep.confirmed < first || k >= spikes || ep.confirmed >= start+length:
			false_++
		case ep.confirmed > start+2:
			t.Errorf("spike %d confirmed at run %d of it, want within the 3-run confirmation window", k, ep.confirmed-start+1)
			caught++
		case ep.recovered != start+length:
			t.Errorf("spike %d recovered %d runs after its end, want at the first normal run", k, ep.recovered-(start+length))
			caught++
		default:
			caught++
		}
	}
	precision := float64(caught) / float64(max(1, caught+false_))
	t.Logf("20 spikes of 6 spreads (%.1f ms) lasting 4 runs: %d confirmed, %d false; recall %.2f, precision %.2f",
		6*spread, caught, false_, float64(caught)/spikes, precision)
	if caught != spikes {
		t.Fatalf("%d of %d spikes confirmed", caught, spikes)
	}
}

func TestDetectARobustBaselineSeesPastAnIncidentThatBlindsMeanAndDeviation(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	values := lognormal(r, 4*24*60, 100, 0.2)
	spread := robustSpread(values[:1440])
	// A past incident: 200 runs at 10× a day in, inside the window when
	// the spike comes two days later.
	for i := 1440; i < 1640; i++ {
		values[i] *= 10
	}
	spike := 3*24*60 + 30
	for j := range 4 {
		values[spike+j] += 6 * spread
	}
	caught := func(kind baselineKind) bool {
		for _, ep := range simulate(values, kind) {
			if ep.confirmed >= spike && ep.confirmed < spike+4 {
				return true
			}
		}
		return false
	}
	robustCaught, meanCaught := caught(robustBaseline), caught(meanBaseline)
	t.Logf("a 6-spread spike 2 days after a 200-run incident at 10×: robust baseline caught it: %v; mean/σ baseline caught it: %v",
		robustCaught, meanCaught)
	if !robustCaught {
		t.Fatal("the robust baseline missed the spike after a past incident")
	}
	if meanCaught {
		t.Fatal("the mean/σ baseline caught it too: the scenario does not show what the robust one buys")
	}
}

func TestDetectConfirmsASteadyClimbWithinThreeAnalyzerRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const noise = 10.0 // ms, normal: the spread around the trend
	// A day of history already climbing 1 spread a day when the
	// analyzer first looks, then three more hours.
	n := 24*60 + 3*60
	samples := make([]Sample, n)
	for i := range samples {
		at := simStart.Add(time.Duration(i) * simEvery)
		days := at.Sub(simStart).Hours() / 24
		samples[i] = Sample{At: at, Value: 100 + days*noise + noise*r.NormFloat64()}
	}
	open, state, count, flat := false, State(""), 0, 0
	confirmedAfter := 0
	for run := 1; run <= 3; run++ {
		end := 24*60 + (run-1)*60
		st, ok := Learn(samples[:end])
		if !ok {
			t.Fatal("no baseline")
		}
		drifting, rate := Drifting(st, Higher, DefaultDriftThreshold)
		t.Logf("analyzer run %d: drift %.2f spreads/day", run, rate)
		next, c, f := Step(open, state, count, flat, drifting, 2, 3)
		open, state, count, flat = next != "" && next != Cleared && next != Recovered, next, c, f
		if state == Confirmed && confirmedAfter == 0 {
			confirmedAfter = run
		}
	}
	if confirmedAfter == 0 {
		t.Fatal("a climb of 1 spread a day was not confirmed as drift within 3 analyzer runs")
	}
	t.Logf("a climb of 1 spread/day: drift confirmed at analyzer run %d", confirmedAfter)

	// A flat series never drifts.
	flatSamples := make([]Sample, 7*24*60)
	for i := range flatSamples {
		flatSamples[i] = Sample{At: simStart.Add(time.Duration(i) * simEvery), Value: 100 + noise*r.NormFloat64()}
	}
	st, _ := Learn(flatSamples)
	if drifting, rate := Drifting(st, Higher, DefaultDriftThreshold); drifting {
		t.Fatalf("a flat series drifts %.2f spreads/day", rate)
	}
}

func TestJudgeHonoursDirectionAndFloors(t *testing.T) {
	for _, tc := range []struct {
		name          string
		value, centre float64
		spread        float64
		rule          Rule
		want          bool
	}{
		{"far above, higher is worse", 200, 100, 10, Rule{Sensitivity: 1, Direction: Higher}, true},
		{"far below, higher is worse", 10, 100, 10, Rule{Sensitivity: 1, Direction: Higher}, false},
		{"far below, lower is worse", 10, 100, 10, Rule{Sensitivity: 1, Direction: Lower}, true},
		{"any change, both", 3, 2, 0, Rule{Sensitivity: 1, Direction: Both, MinAbsoluteDelta: 1}, true},
		{"no change, both", 2, 2, 0, Rule{Sensitivity: 1, Direction: Both, MinAbsoluteDelta: 1}, false},
		{"inside the margin", 129, 100, 10, Rule{Sensitivity: 1, Direction: Higher}, false},
		{"a wider margin at sensitivity 2", 150, 100, 10, Rule{Sensitivity: 2, Direction: Higher}, false},
		{"under the absolute floor", 105, 100, 1, Rule{Sensitivity: 1, Direction: Higher, MinAbsoluteDelta: 10}, false},
		{"under the relative floor", 120, 100, 1, Rule{Sensitivity: 1, Direction: Higher, MinRelativeDelta: 0.25}, false},
		{"over both floors", 130, 100, 1, Rule{Sensitivity: 1, Direction: Higher, MinAbsoluteDelta: 10, MinRelativeDelta: 0.25}, true},
	} {
		if got := Judge(tc.value, tc.centre, tc.spread, tc.rule).Anomalous; got != tc.want {
			t.Errorf("%s: anomalous = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStepWalksTheStates(t *testing.T) {
	type obs struct {
		anomalous bool
		want      State
	}
	for _, tc := range []struct {
		name             string
		confirm, recover int
		seq              []obs
	}{
		{"confirmed after three, recovered at the first normal", 3, 1, []obs{
			{false, ""}, {true, Suspicious}, {true, Suspicious}, {true, Confirmed}, {true, Confirmed}, {false, Recovered}}},
		{"a suspicious episode that sees a normal value is cleared", 3, 1, []obs{
			{true, Suspicious}, {false, Cleared}}},
		{"a window of one confirms at once", 1, 1, []obs{{true, Confirmed}, {false, Recovered}}},
		{"drift clears after three flat runs", 2, 3, []obs{
			{true, Suspicious}, {true, Confirmed}, {false, Confirmed}, {true, Confirmed}, {false, Confirmed}, {false, Confirmed}, {false, Recovered}}},
	} {
		open, state, count, flat := false, State(""), 0, 0
		for i, o := range tc.seq {
			next, c, f := Step(open, state, count, flat, o.anomalous, tc.confirm, tc.recover)
			if next != o.want {
				t.Errorf("%s: observation %d moved to %q, want %q", tc.name, i+1, next, o.want)
			}
			open = next == Suspicious || next == Confirmed
			state, count, flat = next, c, f
			if !open {
				state, count, flat = "", 0, 0
			}
		}
	}
}

func TestATrendOverMinutesIsNoDrift(t *testing.T) {
	// 24 runs a second apart, climbing fast: the slope a day is huge, but
	// it is noise over so short a span.
	samples := make([]Sample, MinSamples)
	for i := range samples {
		samples[i] = Sample{At: simStart.Add(time.Duration(i) * time.Second), Value: 100 + float64(i%5)}
	}
	st, ok := Learn(samples)
	if !ok {
		t.Fatal("no baseline")
	}
	if drifting, rate := Drifting(st, Higher, DefaultDriftThreshold); drifting {
		t.Fatalf("a 23-second baseline drifts %.0f spreads a day", rate)
	}
}
