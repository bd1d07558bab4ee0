package storetest

import "sync"

// Together runs fns at once, released together through a channel, and
// waits for them all: how a test starts two edits of one row so that
// they really overlap.
func Together(fns ...func()) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(func() {
			<-start
			fn()
		})
	}
	close(start)
	wg.Wait()
}
