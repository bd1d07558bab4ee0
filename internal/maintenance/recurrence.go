package maintenance

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones on any machine, with or without /usr/share/zoneinfo

	"github.com/teambition/rrule-go"

	"github.com/checkstack/checkstack/internal/rpc"
)

// Recurrence repeats a window: an RFC 5545 RRULE in a named IANA time
// zone. Occurrences keep the wall-clock time of the window's start in that
// zone (02:00 stays 02:00 across daylight saving), and each lasts as long
// as the first (endAt − startAt).
//
// The rule is the subset dashboards ask for: FREQ=DAILY|WEEKLY|MONTHLY,
// INTERVAL, BYDAY (MO…SU, with an ordinal such as 1MO or -1FR for
// MONTHLY), BYMONTHDAY (MONTHLY), and COUNT or UNTIL (not both). COUNT
// counts from the occurrence that was current when the window's times or
// rule last changed.
type Recurrence struct {
	Rule     string `json:"rule"`     // e.g. "FREQ=WEEKLY;BYDAY=SA"
	Timezone string `json:"timezone"` // e.g. "Europe/Berlin"
}

const (
	maxRule     = 200
	maxInterval = 1000
	maxCount    = 10000
	minChecked  = 8    // occurrences checked for overlap, at least…
	maxChecked  = 1000 // …and at most
)

// schedule is a recurrence anchored at a series start.
type schedule struct {
	rule *rrule.RRule
	dur  time.Duration
}

// parseRecurrence checks rec and anchors it at start, for occurrences of
// length dur. Its errors name the field (recurrence.rule,
// recurrence.timezone, endAt).
func parseRecurrence(rec Recurrence, start time.Time, dur time.Duration) (*schedule, error) {
	if strings.TrimSpace(rec.Timezone) == "" {
		return nil, rpc.Invalid("recurrence.timezone", "required: an IANA time zone such as Europe/Berlin or UTC")
	}
	loc, err := time.LoadLocation(rec.Timezone)
	if err != nil || rec.Timezone == "Local" {
		return nil, rpc.Invalid("recurrence.timezone", fmt.Sprintf("unknown time zone %q (use an IANA name such as Europe/Berlin)", rec.Timezone))
	}
	if err := checkRule(rec.Rule); err != nil {
		return nil, err
	}
	opt, err := rrule.StrToROptionInLocation(inclusiveUntil(rec.Rule), loc)
	if err != nil {
		return nil, rpc.Invalid("recurrence.rule", err.Error())
	}
	opt.Dtstart = start.In(loc)
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, rpc.Invalid("recurrence.rule", err.Error())
	}
	sc := &schedule{rule: r, dur: dur}
	first, ok := sc.atOrAfter(start)
	if !ok {
		return nil, rpc.Invalid("recurrence.rule", "has no occurrence at or after startAt")
	}
	// Check a year of occurrences (and at least a few), so that a
	// daylight-saving change that shortens a gap is among them.
	prev, horizon := first, first.AddDate(1, 0, 1)
	for n := 0; n < maxChecked && (n < minChecked || prev.Before(horizon)); n++ {
		next, ok := sc.after(prev)
		if !ok {
			break
		}
		if next.Sub(prev) < dur {
			return nil, rpc.Invalid("endAt", fmt.Sprintf("occurrences would overlap: one lasts %s, and the rule repeats after %s", dur, next.Sub(prev)))
		}
		prev = next
	}
	return sc, nil
}

// atOrAfter is the first occurrence's start at or after t.
func (sc *schedule) atOrAfter(t time.Time) (time.Time, bool) {
	n := sc.rule.After(t, true)
	return n.UTC(), !n.IsZero()
}

// after is the first occurrence's start strictly after t.
func (sc *schedule) after(t time.Time) (time.Time, bool) {
	n := sc.rule.After(t, false)
	return n.UTC(), !n.IsZero()
}

var weekdays = []string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}

// checkRule refuses what the subset leaves out, naming the part.
func checkRule(rule string) error {
	const field = "recurrence.rule"
	if strings.TrimSpace(rule) == "" {
		return rpc.Invalid(field, "required, such as FREQ=WEEKLY;BYDAY=SA")
	}
	if len(rule) > maxRule {
		return rpc.Invalid(field, fmt.Sprintf("too long (at most %d characters)", maxRule))
	}
	rule = strings.TrimPrefix(rule, "RRULE:")
	seen := map[string]string{}
	for _, part := range strings.Split(rule, ";") {
		key, value, ok := strings.Cut(part, "=")
		if !ok || value == "" {
			return rpc.Invalid(field, fmt.Sprintf("%q is not KEY=VALUE", part))
		}
		if _, dup := seen[key]; dup {
			return rpc.Invalid(field, key+" is given twice")
		}
		seen[key] = value
		switch key {
		case "FREQ":
			if !slices.Contains([]string{"DAILY", "WEEKLY", "MONTHLY"}, value) {
				return rpc.Invalid(field, "FREQ must be DAILY, WEEKLY or MONTHLY")
			}
		case "INTERVAL":
			if n, err := strconv.Atoi(value); err != nil || n < 1 || n > maxInterval {
				return rpc.Invalid(field, fmt.Sprintf("INTERVAL must be a whole number from 1 to %d", maxInterval))
			}
		case "COUNT":
			if n, err := strconv.Atoi(value); err != nil || n < 1 || n > maxCount {
				return rpc.Invalid(field, fmt.Sprintf("COUNT must be a whole number from 1 to %d", maxCount))
			}
		case "UNTIL":
			if !untilFormat(value) {
				return rpc.Invalid(field, "UNTIL must be a date (20270131) or a UTC time (20270131T235959Z)")
			}
		case "BYDAY", "BYMONTHDAY":
		default:
			return rpc.Invalid(field, key+" is not supported (use FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT or UNTIL)")
		}
	}
	freq, ok := seen["FREQ"]
	if !ok {
		return rpc.Invalid(field, "FREQ is required")
	}
	if _, c := seen["COUNT"]; c {
		if _, u := seen["UNTIL"]; u {
			return rpc.Invalid(field, "give COUNT or UNTIL, not both")
		}
	}
	if days, ok := seen["BYDAY"]; ok {
		for _, d := range strings.Split(days, ",") {
			if len(d) < 2 || !slices.Contains(weekdays, d[len(d)-2:]) {
				return rpc.Invalid(field, fmt.Sprintf("BYDAY: %q is not a weekday (MO, TU, WE, TH, FR, SA, SU)", d))
			}
			if ord := d[:len(d)-2]; ord != "" {
				n, err := strconv.Atoi(ord)
				if freq != "MONTHLY" {
					return rpc.Invalid(field, "BYDAY: an ordinal such as "+d+" needs FREQ=MONTHLY")
				}
				if err != nil || n == 0 || n < -5 || n > 5 {
					return rpc.Invalid(field, fmt.Sprintf("BYDAY: %q: the ordinal must be from -5 to 5, not 0", d))
				}
			}
		}
	}
	if mdays, ok := seen["BYMONTHDAY"]; ok {
		if freq != "MONTHLY" {
			return rpc.Invalid(field, "BYMONTHDAY needs FREQ=MONTHLY")
		}
		for _, d := range strings.Split(mdays, ",") {
			n, err := strconv.Atoi(d)
			if err != nil || n == 0 || n < -31 || n > 31 {
				return rpc.Invalid(field, fmt.Sprintf("BYMONTHDAY: %q must be a day from 1 to 31 (or -1 to -31 from the end)", d))
			}
		}
	}
	return nil
}

// inclusiveUntil makes a date-only UNTIL (20270131) include its day, as
// RFC 5545 means it to: rrule-go would read it as that day's midnight.
func inclusiveUntil(rule string) string {
	parts := strings.Split(rule, ";")
	for i, p := range parts {
		if v, ok := strings.CutPrefix(p, "UNTIL="); ok && len(v) == len("20060102") {
			parts[i] = "UNTIL=" + v + "T235959"
		}
	}
	return strings.Join(parts, ";")
}

func untilFormat(v string) bool {
	for _, layout := range []string{"20060102", "20060102T150405Z"} {
		if _, err := time.Parse(layout, v); err == nil {
			return true
		}
	}
	return false
}
