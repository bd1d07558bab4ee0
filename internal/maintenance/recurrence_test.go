package maintenance

import (
	"strings"
	"testing"
	"time"
)

func TestRecurrencesRepeatAtTheSameWallClockTime(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	// Saturdays 02:00–04:00 Berlin time, from a Saturday in March 2026:
	// daylight saving starts on 29 March, and 02:00 stays 02:00 (or the
	// first valid instant after it).
	start := time.Date(2026, 3, 21, 2, 0, 0, 0, berlin)
	sc, err := parseRecurrence(Recurrence{Rule: "FREQ=WEEKLY;BYDAY=SA", Timezone: "Europe/Berlin"}, start.UTC(), 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	next, ok := sc.after(start)
	if !ok || next.In(berlin).Hour() != 2 || next.In(berlin).Day() != 28 {
		t.Fatalf("the occurrence after %v = %v, want 28 March 02:00 Berlin", start, next.In(berlin))
	}
	after, _ := sc.after(next)
	if got := after.In(berlin); got.Day() != 4 || got.Month() != time.April || got.Hour() != 2 {
		t.Fatalf("the occurrence after the change to summer time = %v, want 4 April 02:00 Berlin", got)
	}
	if d := after.Sub(next); d != 7*24*time.Hour-time.Hour {
		t.Fatalf("a week across the change is %v of real time, want 167h", d)
	}
}

func TestCountAndUntilEndASeries(t *testing.T) {
	start := time.Date(2026, 1, 5, 22, 0, 0, 0, time.UTC) // a Monday
	sc, err := parseRecurrence(Recurrence{Rule: "FREQ=DAILY;COUNT=3", Timezone: "UTC"}, start, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	at, n := start, 1
	for {
		next, ok := sc.after(at)
		if !ok {
			break
		}
		at, n = next, n+1
	}
	if n != 3 || !at.Equal(start.Add(48*time.Hour)) {
		t.Fatalf("COUNT=3 gave %d occurrences ending %v", n, at)
	}
	sc, err = parseRecurrence(Recurrence{Rule: "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20260401", Timezone: "UTC"}, start, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := sc.atOrAfter(start)
	if first.Day() != 30 || first.Month() != time.January {
		t.Fatalf("the last Friday of January 2026 = %v, want the 30th", first)
	}
}

func TestBadRecurrencesAreRefusedByField(t *testing.T) {
	start := time.Date(2026, 1, 5, 22, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		rec  Recurrence
		dur  time.Duration
		want string
	}{
		{Recurrence{Rule: "FREQ=WEEKLY", Timezone: ""}, time.Hour, "recurrence.timezone: required"},
		{Recurrence{Rule: "FREQ=WEEKLY", Timezone: "Mars/Olympus"}, time.Hour, "recurrence.timezone: unknown time zone"},
		{Recurrence{Rule: "FREQ=WEEKLY", Timezone: "Local"}, time.Hour, "recurrence.timezone: unknown time zone"},
		{Recurrence{Rule: "", Timezone: "UTC"}, time.Hour, "recurrence.rule: required"},
		{Recurrence{Rule: "FREQ=HOURLY", Timezone: "UTC"}, time.Minute, "FREQ must be DAILY, WEEKLY or MONTHLY"},
		{Recurrence{Rule: "INTERVAL=2", Timezone: "UTC"}, time.Hour, "FREQ is required"},
		{Recurrence{Rule: "FREQ=DAILY;BYHOUR=3", Timezone: "UTC"}, time.Hour, "BYHOUR is not supported"},
		{Recurrence{Rule: "FREQ=DAILY;COUNT=2;UNTIL=20270101", Timezone: "UTC"}, time.Hour, "not both"},
		{Recurrence{Rule: "FREQ=DAILY;COUNT=zero", Timezone: "UTC"}, time.Hour, "COUNT must be"},
		{Recurrence{Rule: "FREQ=DAILY;INTERVAL=0", Timezone: "UTC"}, time.Hour, "INTERVAL must be"},
		{Recurrence{Rule: "FREQ=WEEKLY;BYDAY=XX", Timezone: "UTC"}, time.Hour, "not a weekday"},
		{Recurrence{Rule: "FREQ=WEEKLY;BYDAY=1MO", Timezone: "UTC"}, time.Hour, "needs FREQ=MONTHLY"},
		{Recurrence{Rule: "FREQ=WEEKLY;BYMONTHDAY=1", Timezone: "UTC"}, time.Hour, "BYMONTHDAY needs FREQ=MONTHLY"},
		{Recurrence{Rule: "FREQ=MONTHLY;BYMONTHDAY=32", Timezone: "UTC"}, time.Hour, "BYMONTHDAY"},
		{Recurrence{Rule: "FREQ=DAILY;UNTIL=tomorrow", Timezone: "UTC"}, time.Hour, "UNTIL must be"},
		{Recurrence{Rule: "FREQ=DAILY;UNTIL=20250101", Timezone: "UTC"}, time.Hour, "no occurrence at or after startAt"},
		{Recurrence{Rule: "FREQ=DAILY;FREQ=DAILY", Timezone: "UTC"}, time.Hour, "given twice"},
		{Recurrence{Rule: "FREQ=DAILY", Timezone: "UTC"}, 25 * time.Hour, "endAt: occurrences would overlap"},
		{Recurrence{Rule: "FREQ=WEEKLY;BYDAY=MO,TU", Timezone: "UTC"}, 36 * time.Hour, "endAt: occurrences would overlap"},
		{Recurrence{Rule: "FREQ=DAILY;" + strings.Repeat("X", 300), Timezone: "UTC"}, time.Hour, "too long"},
	} {
		_, err := parseRecurrence(tc.rec, start, tc.dur)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v for %v: %v, want %q", tc.rec, tc.dur, err, tc.want)
		}
	}
}

func TestADateUntilIncludesItsDay(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	start := time.Date(2027, 1, 28, 2, 0, 0, 0, berlin)
	sc, err := parseRecurrence(Recurrence{Rule: "FREQ=DAILY;UNTIL=20270131", Timezone: "Europe/Berlin"}, start.UTC(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	last, at := start.UTC(), start.UTC()
	for {
		next, ok := sc.after(at)
		if !ok {
			break
		}
		last, at = next, next
	}
	if got := last.In(berlin); got.Day() != 31 || got.Hour() != 2 {
		t.Fatalf("the last occurrence of UNTIL=20270131 is %v, want 31 January 02:00 Berlin", got)
	}
}

func TestAnOverlapMadeByADaylightSavingChangeIsRefused(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	// Daily at 02:00 Berlin for 23½ hours: the night summer time starts,
	// the gap is 23 hours.
	start := time.Date(2027, 1, 10, 2, 0, 0, 0, berlin)
	_, err := parseRecurrence(Recurrence{Rule: "FREQ=DAILY", Timezone: "Europe/Berlin"}, start.UTC(), 23*time.Hour+30*time.Minute)
	if err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("a daily window of 23½ h across the change to summer time: %v, want refused", err)
	}
}
