package hook

import (
	"context"
	"slices"
	"testing"
)

func TestRunCallsEveryFunctionInOrder(t *testing.T) {
	var l List[int]
	var got []int
	l.Run(context.Background(), 0) // empty: nothing to call
	l.Add(func(_ context.Context, v int) { got = append(got, v) })
	l.Add(func(_ context.Context, v int) { got = append(got, v*10) })
	l.Run(context.Background(), 4)
	if !slices.Equal(got, []int{4, 40}) {
		t.Fatalf("calls = %v, want [4 40]", got)
	}
}

func TestAFunctionMayAddAnotherWhileRunning(t *testing.T) {
	var l List[string]
	calls := 0
	l.Add(func(context.Context, string) {
		calls++
		l.Add(func(context.Context, string) { calls += 10 })
	})
	l.Run(context.Background(), "")
	if calls != 1 {
		t.Fatalf("calls = %d after the first Run, want 1", calls)
	}
}
