package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/checkstack/checkstack/internal/rpc"
)

// DNS checks that a name resolves and, optionally, to what. Its
// configuration is a DNSConfig.
type DNS struct{}

var _ Strategy = DNS{}

// DNSConfig is the configuration of the dns strategy, as JSON. Validate
// fills in the defaults shown.
type DNSConfig struct {
	// Name is the name to resolve. Required.
	Name string `json:"name"`
	// RecordType is A (the default), AAAA, CNAME, TXT or MX. Validate
	// upper-cases it.
	RecordType string `json:"recordType"`
	// Server is the DNS server to ask, as "host:port"; Validate turns a
	// bare "host" into "host:53". Empty, the default, uses the system
	// resolver. Either way the lookup is Go's: /etc/hosts is read first
	// and resolv.conf's search domains apply.
	Server string `json:"server,omitempty"`
	// Expected, when set, lists values that must all be among the answers.
	// A and AAAA compare as IP addresses; CNAME and MX as host names,
	// ignoring case and a trailing dot (an MX value is the exchange host
	// alone, without its preference); TXT exactly.
	Expected []string `json:"expected,omitempty"`
	// DegradedLatencyMs, when above 0, makes a passing run that took longer
	// than this many milliseconds degraded. 0, the default, never does.
	DegradedLatencyMs int `json:"degradedLatencyMs,omitempty"`
}

var dnsRecordTypes = []string{"A", "AAAA", "CNAME", "TXT", "MX"}

// Name returns "dns".
func (DNS) Name() string { return "dns" }

// Validate checks a DNSConfig and returns it with defaults filled in.
func (DNS) Validate(config json.RawMessage) (json.RawMessage, error) {
	cfg, err := parseDNSConfig(config)
	if err != nil {
		return nil, err
	}
	return json.Marshal(cfg)
}

func parseDNSConfig(config json.RawMessage) (DNSConfig, error) {
	cfg := DNSConfig{RecordType: "A"}
	set, err := decodeConfig(config, fields{
		"name":              &cfg.Name,
		"recordType":        &cfg.RecordType,
		"server":            &cfg.Server,
		"expected":          &cfg.Expected,
		"degradedLatencyMs": &cfg.DegradedLatencyMs,
	})
	if err != nil {
		return DNSConfig{}, err
	}
	if err := checkDomainName("config.name", cfg.Name); err != nil {
		return DNSConfig{}, err
	}
	cfg.RecordType = strings.ToUpper(cfg.RecordType)
	if !slices.Contains(dnsRecordTypes, cfg.RecordType) {
		return DNSConfig{}, rpc.Invalid("config.recordType", "must be one of "+strings.Join(dnsRecordTypes, ", "))
	}
	if cfg.Server != "" {
		if cfg.Server, err = hostPort("config.server", cfg.Server, 53); err != nil {
			return DNSConfig{}, err
		}
	}
	for i, want := range cfg.Expected {
		if err := checkDNSValue(fmt.Sprintf("config.expected[%d]", i), cfg.RecordType, want); err != nil {
			return DNSConfig{}, err
		}
	}
	if err := checkDegraded(set, cfg.DegradedLatencyMs); err != nil {
		return DNSConfig{}, err
	}
	return cfg, nil
}

// checkDomainName checks the shape of a domain name: dot-separated labels
// of at most 63 bytes, 253 in all, an optional trailing dot.
func checkDomainName(field, name string) error {
	if name == "" {
		return rpc.Invalid(field, "required")
	}
	trimmed := strings.TrimSuffix(name, ".")
	if len(trimmed) > 253 || strings.ContainsAny(trimmed, " \t\r\n/:@") {
		return rpc.Invalid(field, "must be a domain name")
	}
	for _, label := range strings.Split(trimmed, ".") {
		if label == "" || len(label) > 63 {
			return rpc.Invalid(field, "must be a domain name")
		}
	}
	return nil
}

// checkDNSValue checks one expected answer for a record type.
func checkDNSValue(field, recordType, value string) error {
	switch recordType {
	case "A":
		if ip, err := netip.ParseAddr(value); err != nil || !ip.Is4() {
			return rpc.Invalid(field, "must be an IPv4 address for recordType A")
		}
	case "AAAA":
		if ip, err := netip.ParseAddr(value); err != nil || !ip.Is6() || ip.Is4In6() {
			return rpc.Invalid(field, "must be an IPv6 address for recordType AAAA")
		}
	case "CNAME":
		return checkDomainName(field, value)
	case "MX":
		if strings.ContainsAny(value, " \t") {
			return rpc.Invalid(field, `must be the mail host alone, such as "mx1.example.com", without a preference`)
		}
		return checkDomainName(field, value)
	}
	return nil
}

// Run resolves the name and compares the answers. Details: answers (an
// array of strings: addresses, host names without the trailing dot, or TXT
// strings; MX hosts in preference order) and server ("host:port", or
// "system").
func (DNS) Run(ctx context.Context, config json.RawMessage) (res Result) {
	defer recoverPanic(&res, "dns")
	cfg, err := parseDNSConfig(config)
	if err != nil {
		return invalidConfig(err)
	}
	ctx, cancel, budget := begin(ctx)
	defer cancel()

	start := time.Now()
	op := cfg.RecordType + " " + cfg.Name
	resolver := net.DefaultResolver
	details := map[string]any{"answers": []string{}, "server": "system"}
	if cfg.Server != "" {
		op += " via " + cfg.Server
		details["server"] = cfg.Server
		resolver = &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, cfg.Server)
			},
		}
	}
	fail := func(format string, args ...any) Result {
		msg := op + ": " + fmt.Sprintf(format, args...)
		return Result{Status: Unhealthy, Latency: time.Since(start), Message: msg, Details: details}
	}

	answers, err := lookupDNS(ctx, resolver, cfg.RecordType, cfg.Name)
	if err != nil {
		if why := stopped(ctx, err, budget); why != "" {
			return fail("%s", why)
		}
		if dnsErr, ok := errors.AsType[*net.DNSError](err); ok {
			if dnsErr.IsNotFound {
				return fail("no %s records: the name does not exist or has none of that type", cfg.RecordType)
			}
			return fail("lookup failed: %s", dnsErr.Err)
		}
		return fail("lookup failed: %v", err)
	}
	elapsed := time.Since(start)
	details["answers"] = answers
	if len(answers) == 0 {
		if cfg.RecordType == "CNAME" {
			return fail("no CNAME record: the name is not an alias")
		}
		return fail("no %s records", cfg.RecordType)
	}
	var missing []string
	for _, want := range cfg.Expected {
		if !slices.ContainsFunc(answers, func(got string) bool { return dnsEqual(cfg.RecordType, want, got) }) {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		return fail("answers %s do not include %s", listAnswers(answers), strings.Join(missing, ", "))
	}
	return success(op+": "+listAnswers(answers), elapsed, cfg.DegradedLatencyMs, details)
}

// lookupDNS asks resolver for name's records of one type and returns them
// as strings, host names without their trailing dot.
func lookupDNS(ctx context.Context, resolver *net.Resolver, recordType, name string) ([]string, error) {
	var answers []string
	switch recordType {
	case "A", "AAAA":
		network := "ip4"
		if recordType == "AAAA" {
			network = "ip6"
		}
		ips, err := resolver.LookupNetIP(ctx, network, name)
		if err != nil {
			return nil, err
		}
		for _, ip := range ips {
			answers = append(answers, ip.Unmap().String())
		}
	case "CNAME":
		cname, err := resolver.LookupCNAME(ctx, name)
		if err != nil {
			return nil, err
		}
		// Go's LookupCNAME returns the name itself for a name that is
		// not an alias; that is no CNAME record.
		if !hostEqual(cname, name) {
			answers = append(answers, strings.TrimSuffix(cname, "."))
		}
	case "TXT":
		txts, err := resolver.LookupTXT(ctx, name)
		if err != nil {
			return nil, err
		}
		answers = append(answers, txts...)
	case "MX":
		mxs, err := resolver.LookupMX(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, mx := range mxs {
			answers = append(answers, strings.TrimSuffix(mx.Host, "."))
		}
	}
	if answers == nil {
		answers = []string{}
	}
	return answers, nil
}

// dnsEqual reports whether an expected value matches an answer.
func dnsEqual(recordType, want, got string) bool {
	switch recordType {
	case "A", "AAAA":
		w, err1 := netip.ParseAddr(want)
		g, err2 := netip.ParseAddr(got)
		return err1 == nil && err2 == nil && w.Unmap() == g.Unmap()
	case "CNAME", "MX":
		return hostEqual(want, got)
	default:
		return want == got
	}
}

// hostEqual compares host names ignoring case and a trailing dot.
func hostEqual(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// listAnswers joins answers for a message, quoting TXT-like values that
// contain spaces and eliding all but the first few.
func listAnswers(answers []string) string {
	const shown = 5
	parts := make([]string, 0, shown+1)
	for i, a := range answers {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(answers)-shown))
			break
		}
		if a == "" || strings.ContainsAny(a, " ,\"") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, ", ")
}
