package source

import (
	"context"
	"sync"
)

// WaitWorkers is the end of a source's Stop, once its workers were told to
// stop: it waits for wg until ctx ends, then calls cancel (when not nil;
// it ends the context the workers run with, abandoning the batch in hand)
// and waits for wg again. It returns ctx's error when ctx ended before the
// workers were done, nil otherwise.
func WaitWorkers(ctx context.Context, wg *sync.WaitGroup, cancel context.CancelFunc) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if cancel != nil {
		cancel()
	}
	<-done
	return err
}
