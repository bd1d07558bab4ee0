package probe

import (
	"encoding/json"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/checkstack/checkstack/internal/rpc"
)

// fields maps each field a configuration may have, by its JSON name, to the
// variable its value is decoded into.
type fields map[string]any

// decodeConfig decodes config, which must be a JSON object, into the
// variables named by fs, and reports which fields it set.
//
// A field the object lacks, or sets to null, leaves its variable as it was,
// so callers fill in defaults first. The exception is a *json.RawMessage
// variable, which holds any JSON value: null is a value there, kept as
// "null". Every error is an *rpc.Error naming the field: an unknown field,
// or a value of the wrong JSON type. Field names match exactly; "URL" is not
// "url".
func decodeConfig(config json.RawMessage, fs fields) (set map[string]bool, err error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(config, &raw); err != nil || raw == nil {
		return nil, rpc.Invalid("config", "must be a JSON object")
	}
	names := slices.Sorted(maps.Keys(raw))
	for _, name := range names {
		if _, ok := fs[name]; !ok {
			return nil, rpc.Invalid("config."+name, "unknown field")
		}
	}
	set = make(map[string]bool, len(raw))
	for _, name := range names {
		value, target := raw[name], fs[name]
		if string(value) == "null" {
			if v, ok := target.(*json.RawMessage); ok {
				*v = json.RawMessage("null")
				set[name] = true
			}
			continue
		}
		if err := json.Unmarshal(value, target); err != nil {
			return nil, rpc.Invalid("config."+name, "must be "+describeType(target))
		}
		set[name] = true
	}
	return set, nil
}

// describeType says what JSON a decodeConfig variable accepts, for an error
// message: "must be " + describeType(v).
func describeType(target any) string {
	switch target.(type) {
	case *string:
		return "a string"
	case *int:
		return "an integer"
	case *bool:
		return "true or false"
	case *[]int:
		return "an array of integers"
	case *[]string:
		return "an array of strings"
	case *map[string]string:
		return "an object whose values are strings"
	default:
		return "valid JSON"
	}
}

// checkHost checks a host name or IP address given without a port.
func checkHost(field, host string) error {
	switch {
	case host == "":
		return rpc.Invalid(field, "required")
	case strings.ContainsAny(host, " \t\r\n/[]@"):
		return rpc.Invalid(field, "must be a host name or IP address")
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return rpc.Invalid(field, "must not include a port")
	}
	return nil
}

// checkPort checks a TCP or UDP port number.
func checkPort(field string, port int) error {
	if port < 1 || port > 65535 {
		return rpc.Invalid(field, "must be between 1 and 65535")
	}
	return nil
}

// checkDegraded checks degradedLatencyMs, which is optional but, when set,
// must be positive.
func checkDegraded(set map[string]bool, ms int) error {
	if set["degradedLatencyMs"] && ms <= 0 {
		return rpc.Invalid("config.degradedLatencyMs", "must be greater than 0")
	}
	return nil
}

// hostPort normalises "host:port" or "host" (which gets defaultPort) to
// "host:port", with IPv6 hosts in brackets.
func hostPort(field, s string, defaultPort int) (string, error) {
	if s == "" {
		return "", rpc.Invalid(field, "required")
	}
	host, port := s, defaultPort
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil {
			return "", rpc.Invalid(field, `must be "host" or "host:port"`)
		}
		if n < 1 || n > 65535 {
			return "", rpc.Invalid(field, "port must be between 1 and 65535")
		}
		host, port = h, n
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n/[]@") {
		return "", rpc.Invalid(field, `must be "host" or "host:port"`)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}
