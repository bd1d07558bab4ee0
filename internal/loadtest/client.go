package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// client calls the server's procedures with one key.
type client struct {
	server string // base URL, no trailing slash
	key    string
	http   *http.Client
}

// maxBody bounds what is read of an answer.
const maxBody = 64 << 20

// apiError is an answer other than 2xx.
type apiError struct {
	procedure string
	status    int
	code      string // the body's error.code, when it has one
	message   string // the body's error.message, when it has one
}

func (e *apiError) Error() string {
	if e.code == "" {
		return fmt.Sprintf("%s: HTTP %d", e.procedure, e.status)
	}
	return fmt.Sprintf("%s: HTTP %d %s: %s", e.procedure, e.status, e.code, e.message)
}

// errBadResponse: a 2xx answer that is not what the procedure returns.
var errBadResponse = errors.New("bad response")

// do POSTs body (a JSON object) to /api/<procedure> and returns the
// answer's body, which it has read to the end. An answer other than 2xx
// is an *apiError.
func (c *client) do(ctx context.Context, procedure, body string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.server+"/api/"+procedure, strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", procedure, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", procedure, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s: read answer: %w", procedure, err)
	}
	if res.StatusCode/100 != 2 {
		e := &apiError{procedure: procedure, status: res.StatusCode}
		var wire struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(b, &wire) == nil {
			e.code, e.message = wire.Error.Code, wire.Error.Message
		}
		return nil, e
	}
	return b, nil
}

// systemIDs returns the ids getSystems lists, in its order.
func (c *client) systemIDs(ctx context.Context) ([]string, error) {
	b, err := c.do(ctx, "catalog/getSystems", "{}")
	if err != nil {
		return nil, err
	}
	return decodeSystemIDs(b)
}

func decodeSystemIDs(b []byte) ([]string, error) {
	var out struct {
		Systems []struct {
			ID string `json:"id"`
		} `json:"systems"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("catalog/getSystems: %w: %v", errBadResponse, err)
	}
	ids := make([]string, len(out.Systems))
	for i, s := range out.Systems {
		ids[i] = s.ID
	}
	return ids, nil
}

// kind names an error for the report: "HTTP 503", "timeout", … ("" for
// nil).
func kind(err error) string {
	var api *apiError
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &api):
		return fmt.Sprintf("HTTP %d", api.status)
	case errors.Is(err, errBadResponse):
		return "bad response"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	default:
		return "transport error"
	}
}
