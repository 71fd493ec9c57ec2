package deliver

import (
	"context"
	"sync"
)

// keyLocks keeps two batches of one sync in this process from writing the
// same key at once (DESIGN.md invariant 4): without it, an older version
// and a newer one could both pass the version guard and reach Salesforce in
// either order. A batch takes all its keys at once or waits, so two batches
// never deadlock on each other.
type keyLocks struct {
	mu      sync.Mutex
	held    map[string]struct{}
	changed chan struct{}
}

func newKeyLocks() *keyLocks {
	return &keyLocks{held: map[string]struct{}{}, changed: make(chan struct{})}
}

// acquire waits until none of keys is held, then holds them all.
func (k *keyLocks) acquire(ctx context.Context, keys []string) error {
	for {
		k.mu.Lock()
		free := true
		for _, key := range keys {
			if _, busy := k.held[key]; busy {
				free = false
				break
			}
		}
		if free {
			for _, key := range keys {
				k.held[key] = struct{}{}
			}
			k.mu.Unlock()
			return nil
		}
		ch := k.changed
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release frees keys.
func (k *keyLocks) release(keys []string) {
	if len(keys) == 0 {
		return
	}
	k.mu.Lock()
	for _, key := range keys {
		delete(k.held, key)
	}
	close(k.changed)
	k.changed = make(chan struct{})
	k.mu.Unlock()
}
