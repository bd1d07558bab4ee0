package probe_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/checkstack/checkstack/internal/probe"
	"github.com/checkstack/checkstack/internal/rpc"
)

func TestValidateRejectsBadConfigurations(t *testing.T) {
	tests := []struct {
		name     string
		strategy string
		config   string
		want     string
	}{
		// Every strategy.
		{"a configuration that is not an object is rejected", "http", `["https://x"]`, "config: must be a JSON object"},
		{"a null configuration is rejected", "tcp", `null`, "config: must be a JSON object"},
		{"an empty configuration is rejected", "dns", ``, "config: must be a JSON object"},
		{"an unknown http field is named", "http", `{"url":"https://x","timeout":5}`, "config.timeout: unknown field"},
		{"a field in the wrong case is unknown", "http", `{"URL":"https://x"}`, "config.URL: unknown field"},
		{"an unknown tcp field is named", "tcp", `{"host":"db","port":5432,"tls":true}`, "config.tls: unknown field"},
		{"an unknown dns field is named", "dns", `{"name":"x.test","type":"A"}`, "config.type: unknown field"},
		{"an unknown tls field is named", "tls", `{"host":"x.test","days":3}`, "config.days: unknown field"},

		// http.
		{"an http check needs a url", "http", `{}`, "config.url: required"},
		{"an http url must be a string", "http", `{"url":42}`, "config.url: must be a string"},
		{"an http url must be absolute", "http", `{"url":"/health"}`, "config.url: must be an absolute http or https URL"},
		{"an http url must be http or https", "http", `{"url":"ftp://files.test/x"}`, "config.url: must be an absolute http or https URL"},
		{"an http url must have a host", "http", `{"url":"https:///health"}`, "config.url: must be an absolute http or https URL"},
		{"an http method must be known", "http", `{"url":"https://x","method":"TRACE"}`, "config.method: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"},
		{"an http method must be a string", "http", `{"url":"https://x","method":1}`, "config.method: must be a string"},
		{"headers must be an object of strings", "http", `{"url":"https://x","headers":{"X-N":1}}`, "config.headers: must be an object whose values are strings"},
		{"headers must not be an array", "http", `{"url":"https://x","headers":["X-N: 1"]}`, "config.headers: must be an object whose values are strings"},
		{"a header name must be a token", "http", `{"url":"https://x","headers":{"Bad Name":"1"}}`, `config.headers: "Bad Name" is not a valid header name`},
		{"a header value must be one line", "http", `{"url":"https://x","headers":{"X-A":"1\r\nX-B: 2"}}`, "config.headers.X-A: must not contain line breaks or NUL"},
		{"a body must be a string", "http", `{"url":"https://x","body":{"a":1}}`, "config.body: must be a string"},
		{"expectedStatus must be an array", "http", `{"url":"https://x","expectedStatus":200}`, "config.expectedStatus: must be an array of integers"},
		{"expectedStatus must hold integers", "http", `{"url":"https://x","expectedStatus":["200"]}`, "config.expectedStatus: must be an array of integers"},
		{"an expected status below 100 is rejected", "http", `{"url":"https://x","expectedStatus":[200,99]}`, "config.expectedStatus[1]: must be between 100 and 599"},
		{"an expected status above 599 is rejected", "http", `{"url":"https://x","expectedStatus":[600]}`, "config.expectedStatus[0]: must be between 100 and 599"},
		{"bodyContains must be a string", "http", `{"url":"https://x","bodyContains":true}`, "config.bodyContains: must be a string"},
		{"bodyContains makes no sense with HEAD", "http", `{"url":"https://x","method":"HEAD","bodyContains":"ok"}`, "config.bodyContains: cannot be checked with method HEAD, whose response has no body"},
		{"jsonPath makes no sense with HEAD", "http", `{"url":"https://x","method":"HEAD","jsonPath":"ok"}`, "config.jsonPath: cannot be checked with method HEAD, whose response has no body"},
		{"a jsonPath must not have empty segments", "http", `{"url":"https://x","jsonPath":"checks..state"}`, `config.jsonPath: must be a dotted path such as "checks.db.state", with no empty segment`},
		{"a jsonPath must not start with a dot", "http", `{"url":"https://x","jsonPath":".status"}`, `config.jsonPath: must be a dotted path such as "checks.db.state", with no empty segment`},
		{"jsonEquals needs jsonPath", "http", `{"url":"https://x","jsonEquals":"up"}`, "config.jsonEquals: needs config.jsonPath"},
		{"followRedirects must be a boolean", "http", `{"url":"https://x","followRedirects":"no"}`, "config.followRedirects: must be true or false"},
		{"tlsVerify must be a boolean", "http", `{"url":"https://x","tlsVerify":0}`, "config.tlsVerify: must be true or false"},
		{"degradedLatencyMs must be positive", "http", `{"url":"https://x","degradedLatencyMs":0}`, "config.degradedLatencyMs: must be greater than 0"},
		{"degradedLatencyMs must be an integer", "http", `{"url":"https://x","degradedLatencyMs":1.5}`, "config.degradedLatencyMs: must be an integer"},

		// tcp.
		{"a tcp check needs a host", "tcp", `{"port":5432}`, "config.host: required"},
		{"a tcp check needs a port", "tcp", `{"host":"db"}`, "config.port: required"},
		{"a tcp host must be a string", "tcp", `{"host":["db"],"port":5432}`, "config.host: must be a string"},
		{"a tcp host must not carry a port", "tcp", `{"host":"db:5432","port":5432}`, "config.host: must not include a port"},
		{"a tcp host must not be a URL", "tcp", `{"host":"tcp://db","port":5432}`, "config.host: must be a host name or IP address"},
		{"a tcp port must be an integer", "tcp", `{"host":"db","port":"5432"}`, "config.port: must be an integer"},
		{"a tcp port of 0 is out of range", "tcp", `{"host":"db","port":0}`, "config.port: must be between 1 and 65535"},
		{"a tcp port above 65535 is out of range", "tcp", `{"host":"db","port":65536}`, "config.port: must be between 1 and 65535"},
		{"send must be a string", "tcp", `{"host":"db","port":1,"send":5}`, "config.send: must be a string"},
		{"expect must be a string", "tcp", `{"host":"db","port":1,"expect":[]}`, "config.expect: must be a string"},
		{"a tcp degradedLatencyMs must be positive", "tcp", `{"host":"db","port":1,"degradedLatencyMs":-5}`, "config.degradedLatencyMs: must be greater than 0"},

		// dns.
		{"a dns check needs a name", "dns", `{"recordType":"A"}`, "config.name: required"},
		{"a dns name must be a string", "dns", `{"name":1}`, "config.name: must be a string"},
		{"a dns name must be a domain name", "dns", `{"name":"not a name"}`, "config.name: must be a domain name"},
		{"a dns name must not have empty labels", "dns", `{"name":"a..test"}`, "config.name: must be a domain name"},
		{"a record type must be supported", "dns", `{"name":"x.test","recordType":"SRV"}`, "config.recordType: must be one of A, AAAA, CNAME, TXT, MX"},
		{"a server port must be in range", "dns", `{"name":"x.test","server":"10.0.0.1:70000"}`, "config.server: port must be between 1 and 65535"},
		{"a server must be a host", "dns", `{"name":"x.test","server":"udp://10.0.0.1"}`, `config.server: must be "host" or "host:port"`},
		{"expected must be an array of strings", "dns", `{"name":"x.test","expected":"1.2.3.4"}`, "config.expected: must be an array of strings"},
		{"an expected A answer must be an IPv4 address", "dns", `{"name":"x.test","expected":["1.2.3.4","::1"]}`, "config.expected[1]: must be an IPv4 address for recordType A"},
		{"an expected AAAA answer must be an IPv6 address", "dns", `{"name":"x.test","recordType":"AAAA","expected":["1.2.3.4"]}`, "config.expected[0]: must be an IPv6 address for recordType AAAA"},
		{"an expected MX answer is a host alone", "dns", `{"name":"x.test","recordType":"MX","expected":["10 mx.x.test"]}`, `config.expected[0]: must be the mail host alone, such as "mx1.example.com", without a preference`},
		{"an expected CNAME answer must be a name", "dns", `{"name":"x.test","recordType":"CNAME","expected":[""]}`, "config.expected[0]: required"},
		{"a dns degradedLatencyMs must be positive", "dns", `{"name":"x.test","degradedLatencyMs":0}`, "config.degradedLatencyMs: must be greater than 0"},

		// tls.
		{"a tls check needs a host", "tls", `{"port":443}`, "config.host: required"},
		{"a tls port must be in range", "tls", `{"host":"x.test","port":0}`, "config.port: must be between 1 and 65535"},
		{"a tls port must be an integer", "tls", `{"host":"x.test","port":"443"}`, "config.port: must be an integer"},
		{"a server name must not carry a port", "tls", `{"host":"x.test","serverName":"x.test:443"}`, "config.serverName: must not include a port"},
		{"warnDays must not be negative", "tls", `{"host":"x.test","warnDays":-1}`, "config.warnDays: must be 0 or more"},
		{"failDays must not be negative", "tls", `{"host":"x.test","failDays":-1}`, "config.failDays: must be 0 or more"},
		{"failDays must not exceed warnDays", "tls", `{"host":"x.test","warnDays":10,"failDays":12}`, "config.failDays: must be at most config.warnDays (10)"},
		{"failDays must not exceed the default warnDays", "tls", `{"host":"x.test","failDays":20}`, "config.failDays: must be at most config.warnDays (14)"},
		{"verifyChain must be a boolean", "tls", `{"host":"x.test","verifyChain":"yes"}`, "config.verifyChain: must be true or false"},
		{"warnDays must be an integer", "tls", `{"host":"x.test","warnDays":"14"}`, "config.warnDays: must be an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := probe.Lookup(tt.strategy)
			got, err := s.Validate(json.RawMessage(tt.config))
			if err == nil {
				t.Fatalf("Validate(%s) = %s, want error %q", tt.config, got, tt.want)
			}
			var rerr *rpc.Error
			if !errors.As(err, &rerr) {
				t.Fatalf("error %v is a %T, want *rpc.Error", err, err)
			}
			if rerr.Message != tt.want || rerr.Status != http.StatusBadRequest {
				t.Errorf("error = %d %q, want 400 %q", rerr.Status, rerr.Message, tt.want)
			}
		})
	}
}

func TestValidateFillsInDefaults(t *testing.T) {
	tests := []struct {
		name     string
		strategy string
		config   string
		want     string
	}{
		{
			"an http check defaults to GET, following redirects and verifying TLS", "http",
			`{"url":"https://example.test/health"}`,
			`{"method":"GET","url":"https://example.test/health","followRedirects":true,"tlsVerify":true}`,
		},
		{
			"an http method is upper-cased and explicit settings are kept", "http",
			`{"url":"http://example.test","method":"post","followRedirects":false,"tlsVerify":false,"expectedStatus":[201],"degradedLatencyMs":500}`,
			`{"method":"POST","url":"http://example.test","expectedStatus":[201],"followRedirects":false,"tlsVerify":false,"degradedLatencyMs":500}`,
		},
		{
			"null fields keep their defaults", "http",
			`{"url":"http://example.test","method":null,"followRedirects":null}`,
			`{"method":"GET","url":"http://example.test","followRedirects":true,"tlsVerify":true}`,
		},
		{
			"a null jsonEquals is kept as the value to compare with", "http",
			`{"url":"http://example.test","jsonPath":"maintenance","jsonEquals":null}`,
			`{"method":"GET","url":"http://example.test","jsonPath":"maintenance","jsonEquals":null,"followRedirects":true,"tlsVerify":true}`,
		},
		{
			"a jsonEquals object is kept, compacted", "http",
			`{"url":"http://example.test","jsonPath":"db","jsonEquals":{ "state" : "ok" }}`,
			`{"method":"GET","url":"http://example.test","jsonPath":"db","jsonEquals":{"state":"ok"},"followRedirects":true,"tlsVerify":true}`,
		},
		{
			"a tcp check has no defaults to fill", "tcp",
			`{"host":"db.test","port":5432}`,
			`{"host":"db.test","port":5432}`,
		},
		{
			"a dns check defaults to an A lookup with the system resolver", "dns",
			`{"name":"example.test"}`,
			`{"name":"example.test","recordType":"A"}`,
		},
		{
			"a dns server without a port gets port 53", "dns",
			`{"name":"example.test","recordType":"mx","server":"10.0.0.53"}`,
			`{"name":"example.test","recordType":"MX","server":"10.0.0.53:53"}`,
		},
		{
			"an IPv6 dns server gets brackets and port 53", "dns",
			`{"name":"example.test","server":"::1"}`,
			`{"name":"example.test","recordType":"A","server":"[::1]:53"}`,
		},
		{
			"a dns server's port is kept", "dns",
			`{"name":"example.test","server":"[::1]:5353"}`,
			`{"name":"example.test","recordType":"A","server":"[::1]:5353"}`,
		},
		{
			"a tls check defaults to port 443, the host as server name, 14 and 7 days, verifying the chain", "tls",
			`{"host":"example.test"}`,
			`{"host":"example.test","port":443,"serverName":"example.test","warnDays":14,"failDays":7,"verifyChain":true}`,
		},
		{
			"a warnDays below 7 lowers the default failDays with it", "tls",
			`{"host":"example.test","warnDays":3}`,
			`{"host":"example.test","port":443,"serverName":"example.test","warnDays":3,"failDays":3,"verifyChain":true}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := probe.Lookup(tt.strategy)
			got, err := s.Validate(json.RawMessage(tt.config))
			if err != nil {
				t.Fatalf("Validate(%s): %v", tt.config, err)
			}
			if string(got) != tt.want {
				t.Errorf("Validate(%s)\n got %s\nwant %s", tt.config, got, tt.want)
			}
			again, err := s.Validate(got)
			if err != nil || string(again) != string(got) {
				t.Errorf("Validate of its own output = %s, %v; want it unchanged", again, err)
			}
		})
	}
}

func TestRunReportsAnInvalidConfiguration(t *testing.T) {
	for _, name := range probe.Names() {
		t.Run("the "+name+" strategy is unhealthy and names the field", func(t *testing.T) {
			s, _ := probe.Lookup(name)
			res := s.Run(context.Background(), json.RawMessage(`{"nope":1}`))
			wantResult(t, res, probe.Unhealthy, "invalid configuration: config.nope: unknown field")
		})
	}
}

func TestLookup(t *testing.T) {
	t.Run("names are sorted", func(t *testing.T) {
		if got, want := probe.Names(), []string{"dns", "http", "tcp", "tls"}; !slices.Equal(got, want) {
			t.Errorf("Names() = %q, want %q", got, want)
		}
	})
	t.Run("every name finds the strategy of that name", func(t *testing.T) {
		for _, name := range probe.Names() {
			s, ok := probe.Lookup(name)
			if !ok || s.Name() != name {
				t.Errorf("Lookup(%q) = %v, %v; want the %s strategy", name, s, ok, name)
			}
		}
	})
	t.Run("an unknown name finds nothing", func(t *testing.T) {
		for _, name := range []string{"", "icmp", "HTTP"} {
			if s, ok := probe.Lookup(name); ok || s != nil {
				t.Errorf("Lookup(%q) = %v, %v; want nil, false", name, s, ok)
			}
		}
	})
}
