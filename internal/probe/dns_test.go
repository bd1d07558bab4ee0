package probe_test

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/checkstack/checkstack/internal/probe"
)

// records are one name's records in a test zone.
type records struct {
	a, aaaa []netip.Addr
	cname   string // an alias has only this
	txt     []string
	mx      []mx
}

type mx struct {
	pref uint16
	host string
}

// testZone is what serveDNS answers for, keyed by lower-case absolute name.
var testZone = map[string]records{
	"probe.test.": {
		a:    []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")},
		aaaa: []netip.Addr{netip.MustParseAddr("2001:db8::10")},
		txt:  []string{"v=spf1 -all", "hello world"},
		mx:   []mx{{20, "backup.probe.test."}, {10, "mail.probe.test."}},
	},
	"www.probe.test.":  {cname: "app.probe.test."},
	"app.probe.test.":  {a: []netip.Addr{netip.MustParseAddr("192.0.2.20")}},
	"mail.probe.test.": {a: []netip.Addr{netip.MustParseAddr("192.0.2.25")}},
}

// serveDNS answers DNS queries over UDP on a loopback port from testZone
// until the test ends, with NXDOMAIN for names outside it.
func serveDNS(t *testing.T) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return // closed: the test is over
			}
			reply, err := answerDNS(buf[:n])
			if err != nil {
				t.Errorf("dns server: %v", err)
				continue
			}
			if _, err := conn.WriteTo(reply, from); err != nil {
				t.Errorf("dns server: reply: %v", err)
			}
		}
	})
	t.Cleanup(func() {
		_ = conn.Close() // only fails if already closed
		wg.Wait()
	})
	return conn.LocalAddr().String()
}

// answerDNS builds the reply to one query, following an alias within the
// zone for queries other than CNAME, as a recursive resolver would.
func answerDNS(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	rec, found := testZone[strings.ToLower(q.Name.String())]
	header := dnsmessage.Header{
		ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true,
	}
	if !found {
		header.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, header)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	owner := q.Name
	rh := func(name dnsmessage.Name, typ dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: name, Type: typ, Class: dnsmessage.ClassINET, TTL: 60}
	}
	if rec.cname != "" {
		target := dnsmessage.MustNewName(rec.cname)
		if err := b.CNAMEResource(rh(owner, dnsmessage.TypeCNAME), dnsmessage.CNAMEResource{CNAME: target}); err != nil {
			return nil, err
		}
		if q.Type == dnsmessage.TypeCNAME {
			return b.Finish()
		}
		owner, rec = target, testZone[rec.cname]
	}
	switch q.Type {
	case dnsmessage.TypeA:
		for _, ip := range rec.a {
			if err := b.AResource(rh(owner, q.Type), dnsmessage.AResource{A: ip.As4()}); err != nil {
				return nil, err
			}
		}
	case dnsmessage.TypeAAAA:
		for _, ip := range rec.aaaa {
			if err := b.AAAAResource(rh(owner, q.Type), dnsmessage.AAAAResource{AAAA: ip.As16()}); err != nil {
				return nil, err
			}
		}
	case dnsmessage.TypeTXT:
		for _, txt := range rec.txt {
			if err := b.TXTResource(rh(owner, q.Type), dnsmessage.TXTResource{TXT: []string{txt}}); err != nil {
				return nil, err
			}
		}
	case dnsmessage.TypeMX:
		for _, m := range rec.mx {
			r := dnsmessage.MXResource{Pref: m.pref, MX: dnsmessage.MustNewName(m.host)}
			if err := b.MXResource(rh(owner, q.Type), r); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

// serveSilentDNS opens a UDP port on loopback that never answers.
func serveSilentDNS(t *testing.T) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() }) // only fails if already closed
	return conn.LocalAddr().String()
}

func TestDNS(t *testing.T) {
	server := serveDNS(t)
	tests := []struct {
		name    string
		config  map[string]any
		status  probe.Status
		parts   []string
		answers []string // nil: not checked; in order for MX, in any order otherwise
	}{
		{
			name:    "an A lookup lists the addresses",
			config:  map[string]any{"name": "probe.test"},
			status:  probe.Healthy,
			parts:   []string{"A probe.test via " + server + ": 192.0.2.1"},
			answers: []string{"192.0.2.10", "192.0.2.11"},
		},
		{
			name:   "an A lookup is healthy when every expected address is an answer",
			config: map[string]any{"name": "probe.test", "expected": []string{"192.0.2.11", "192.0.2.10"}},
			status: probe.Healthy,
		},
		{
			name:   "an A lookup is unhealthy when an expected address is missing",
			config: map[string]any{"name": "probe.test", "expected": []string{"192.0.2.10", "192.0.2.99"}},
			status: probe.Unhealthy,
			parts:  []string{"answers 192.0.2.1", "do not include 192.0.2.99"},
		},
		{
			name:    "an A lookup of an alias answers with the target's addresses",
			config:  map[string]any{"name": "www.probe.test", "expected": []string{"192.0.2.20"}},
			status:  probe.Healthy,
			answers: []string{"192.0.2.20"},
		},
		{
			name:    "an AAAA lookup compares addresses however they are written",
			config:  map[string]any{"name": "probe.test", "recordType": "AAAA", "expected": []string{"2001:0db8:0:0::10"}},
			status:  probe.Healthy,
			answers: []string{"2001:db8::10"},
		},
		{
			name:    "a CNAME lookup compares names ignoring case and a trailing dot",
			config:  map[string]any{"name": "www.probe.test", "recordType": "CNAME", "expected": []string{"APP.probe.test."}},
			status:  probe.Healthy,
			answers: []string{"app.probe.test"},
		},
		{
			name:   "a CNAME lookup of a name that is not an alias is unhealthy",
			config: map[string]any{"name": "probe.test", "recordType": "CNAME"},
			status: probe.Unhealthy,
			parts:  []string{"not an alias"},
		},
		{
			name:    "a TXT lookup matches an expected string exactly",
			config:  map[string]any{"name": "probe.test", "recordType": "TXT", "expected": []string{"hello world"}},
			status:  probe.Healthy,
			answers: []string{"v=spf1 -all", "hello world"},
		},
		{
			name:   "a TXT lookup is unhealthy when an expected string differs in case",
			config: map[string]any{"name": "probe.test", "recordType": "TXT", "expected": []string{"Hello World"}},
			status: probe.Unhealthy,
			parts:  []string{`do not include Hello World`},
		},
		{
			name:    "an MX lookup lists hosts in preference order",
			config:  map[string]any{"name": "probe.test", "recordType": "MX", "expected": []string{"mail.probe.test"}},
			status:  probe.Healthy,
			answers: []string{"mail.probe.test", "backup.probe.test"},
		},
		{
			name:   "an MX lookup is unhealthy when an expected host is missing",
			config: map[string]any{"name": "probe.test", "recordType": "MX", "expected": []string{"mx.elsewhere.test"}},
			status: probe.Unhealthy,
			parts:  []string{"do not include mx.elsewhere.test"},
		},
		{
			name:   "a name that does not exist is unhealthy",
			config: map[string]any{"name": "nope.probe.test"},
			status: probe.Unhealthy,
			parts:  []string{"A nope.probe.test via " + server + ": no A records: the name does not exist"},
		},
		{
			name:   "a lookup faster than degradedLatencyMs is healthy",
			config: map[string]any{"name": "probe.test", "degradedLatencyMs": 10000},
			status: probe.Healthy,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.config["server"] = server
			res := check(t, probe.DNS{}, tt.config, 10*time.Second)
			wantResult(t, res, tt.status, tt.parts...)
			if got := res.Details["server"]; got != server {
				t.Errorf("server = %v, want %s", got, server)
			}
			if tt.answers != nil {
				got, _ := res.Details["answers"].([]string)
				want := tt.answers
				if tt.config["recordType"] != "MX" {
					// Go orders addresses by RFC 6724, which depends on
					// the machine's routes.
					got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
				}
				if !slices.Equal(got, want) {
					t.Errorf("answers = %q, want %q", got, tt.answers)
				}
			}
		})
	}
}

func TestDNSCutsOffASilentServerAtTheDeadline(t *testing.T) {
	res := check(t, probe.DNS{}, map[string]any{"name": "probe.test", "server": serveSilentDNS(t)}, hangTimeout)
	wantTimedOut(t, res)
}
