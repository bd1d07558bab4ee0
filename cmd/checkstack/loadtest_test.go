package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoadtestAgainstARealServer(t *testing.T) {
	eachDatabase(t, func(t *testing.T, database string) {
		key := newUser(t, database, "admin@example.com", true)
		in := start(t, database)
		for i := range 3 {
			in.ok(t, key, "catalog/createSystem", map[string]string{"name": fmt.Sprintf("system-%d", i)}, nil)
		}

		var out, errOut bytes.Buffer
		args := []string{"loadtest", "--server", in.url, "--key", key,
			"--users", "4", "--systems", "5", "--seed", "--duration", "2s", "--poll", "500ms"}
		if err := run(t.Context(), args, noEnv, strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("checkstack loadtest: %v\n%s", err, errOut.String())
		}
		report := out.String()
		t.Logf("report:\n%s", report)
		field := func(pattern string) []string {
			t.Helper()
			m := regexp.MustCompile(`(?m)^` + pattern + `$`).FindStringSubmatch(report)
			if m == nil {
				t.Fatalf("the report has no line like %q:\n%s", pattern, report)
			}
			return m[1:]
		}
		number := func(s string) float64 {
			t.Helper()
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%q in the report: %v\n%s", s, err, report)
			}
			return v
		}

		field(`users\s+4, asking about 5 systems \(2 created\)`)
		if n := number(field(`requests\s+(\d+) \(([\d.]+) req/s\)`)[0]); n <= 0 {
			t.Errorf("no request made:\n%s", report)
		}
		var lat []time.Duration
		for _, s := range field(`latency\s+p50 (\S+), p95 (\S+), p99 (\S+), max (\S+)`) {
			d, err := time.ParseDuration(s)
			if err != nil {
				t.Fatalf("latency %q: %v\n%s", s, err, report)
			}
			lat = append(lat, d)
		}
		if lat[2] <= 0 || lat[0] > lat[1] || lat[1] > lat[2] || lat[2] > lat[3] {
			t.Errorf("latency p50 %v, p95 %v, p99 %v, max %v; want 0 < p99 and each ≤ the next", lat[0], lat[1], lat[2], lat[3])
		}
		field(`errors\s+(0)`)
		field(`signals\s+(\d+) received on (\d+) streams`)
		if q := number(field(`queries\s+(\S+) per API request \(\d+ database queries, \d+ API requests\)`)[0]); q < 0 {
			t.Errorf("queries per request %v, want ≥ 0", q)
		}
		if h := number(field(`cache\s+hit ratio (\S+) \(\d+ hits, \d+ misses\)`)[0]); h < 0 || h > 1 {
			t.Errorf("hit ratio %v, want from 0 to 1", h)
		}

		// The seeded systems are numbered after the ones that were.
		var list systems
		in.ok(t, key, "catalog/getSystems", "{}", &list)
		var names []string
		for _, s := range list.Systems {
			names = append(names, s.Name)
		}
		slices.Sort(names)
		if got, want := strings.Join(names, " "), "loadtest-4 loadtest-5 system-0 system-1 system-2"; got != want {
			t.Errorf("after --seed the catalog has %s, want %s", got, want)
		}
	})
}

func TestLoadtestRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		flag string // the error names it
	}{
		{"no users", []string{"--users", "0"}, "--users"},
		{"users that are not a number", []string{"--users", "many"}, "-users"},
		{"no systems", []string{"--systems", "0"}, "--systems"},
		{"more systems than a bulk read takes", []string{"--systems", "1001"}, "--systems"},
		{"a duration of nothing", []string{"--duration", "0s"}, "--duration"},
		{"a poll that is not a duration", []string{"--poll", "5"}, "-poll"},
		{"a poll of nothing", []string{"--poll", "0s"}, "--poll"},
		{"a server that is not a URL", []string{"--server", "localhost:8080"}, "--server"},
		{"no key", []string{"--key", ""}, "--key"},
		{"both a key and a keys file", []string{"--keys-file", "/nonexistent"}, "--keys-file"},
		{"an unknown flag", []string{"--usres", "4"}, "-usres"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"loadtest", "--server", "http://127.0.0.1:1", "--key", "cs_x"}, tc.args...)
			var out, errOut bytes.Buffer
			err := run(t.Context(), args, noEnv, strings.NewReader(""), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.flag) {
				t.Fatalf("checkstack %s = %v; want an error naming %s", strings.Join(args, " "), err, tc.flag)
			}
			if out.Len() != 0 {
				t.Fatalf("a refused run printed a report:\n%s", out.String())
			}
		})
	}

	t.Run("help prints the usage", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := run(t.Context(), []string{"loadtest", "--help"}, noEnv, strings.NewReader(""), &out, &errOut)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut.String(), "Usage: checkstack loadtest") || !strings.Contains(errOut.String(), "-users int") {
			t.Fatalf("loadtest --help = %v\n%s", err, errOut.String())
		}
	})
}
