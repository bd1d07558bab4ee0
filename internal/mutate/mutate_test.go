package mutate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestDo(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	boom := errors.New("boom")
	for _, tc := range []struct {
		name               string
		writeErr, invalErr error
		wantSteps          string
		wantErr            error
	}{
		{"a successful mutation writes, then invalidates, then signals", nil, nil, "write,invalidate,signal", nil},
		{"a failed write neither invalidates nor signals", boom, nil, "write", boom},
		{"a failed invalidation still signals and the mutation succeeds", nil, boom, "write,invalidate,signal", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var steps []string
			ctx, cancel := context.WithCancel(context.Background())
			err := Do(ctx, log, "m",
				func(context.Context) error { steps = append(steps, "write"); cancel(); return tc.writeErr },
				func(ctx context.Context) error {
					if ctx.Err() != nil {
						t.Error("invalidation ran on a cancelled context after the write")
					}
					steps = append(steps, "invalidate")
					return tc.invalErr
				},
				func(context.Context) { steps = append(steps, "signal") })
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got := strings.Join(steps, ","); got != tc.wantSteps {
				t.Fatalf("steps %s, want %s", got, tc.wantSteps)
			}
		})
	}
}
