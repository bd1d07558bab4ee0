package rpc

import "sync"

// inputMemo keeps a read's last few valid inputs by their exact body, so
// that a dashboard polling with the same body (200 system ids, say) is
// not decoded and validated again on every poll: decoding is most of a
// warm bulk read's cost. A hit returns the same value to every caller
// with that body, so reads treat their input as read-only (none sorts or
// writes into an input's slices or maps). Invalid bodies are never kept;
// a body is compared in full, never by a hash alone.
type inputMemo[In any] struct {
	mu sync.Mutex
	m  map[string]In
}

const (
	// memoEntries bounds each read's memo; memoMaxBody the bodies kept
	// (1,000 ids of 26 characters are about 29 KiB). At most a few MiB
	// over every read.
	memoEntries = 16
	memoMaxBody = 32 << 10
)

func newInputMemo[In any]() *inputMemo[In] {
	return &inputMemo[In]{m: make(map[string]In, memoEntries)}
}

// decode is Decode[In](body), from the memo when it holds body.
func (m *inputMemo[In]) decode(body []byte) (In, error) {
	if len(body) > memoMaxBody {
		return Decode[In](body)
	}
	m.mu.Lock()
	in, ok := m.m[string(body)] // the conversion in an index does not allocate
	m.mu.Unlock()
	if ok {
		return in, nil
	}
	in, err := Decode[In](body)
	if err != nil {
		return in, err
	}
	m.mu.Lock()
	if len(m.m) >= memoEntries {
		for k := range m.m { // any one: Go's map order is random
			delete(m.m, k)
			break
		}
	}
	m.m[string(body)] = in
	m.mu.Unlock()
	return in, nil
}
