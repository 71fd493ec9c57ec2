package statetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/state"
)

// racers is how many writers race in the concurrency cases, spread over two
// Store instances.
const racers = 8

func testUpdateRace(t *testing.T, h Harness) {
	ctx := t.Context()
	stores := []state.Store{h.Open(t), h.Open(t)}
	base, err := stores[0].Put(ctx, "watermark", []byte("start"))
	require.NoError(t, err)

	start := make(chan struct{})
	results := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			_, results[i] = stores[i%2].Update(ctx, "watermark", []byte("writer-"+strconv.Itoa(i)), base)
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range results {
		if err == nil {
			require.Equal(t, -1, winner, "writers %d and %d both won", winner, i)
			winner = i
			continue
		}
		require.ErrorIs(t, err, state.ErrConflict, "writer %d", i)
	}
	require.NotEqual(t, -1, winner, "exactly one writer wins")
	e, err := stores[1].Get(ctx, "watermark")
	require.NoError(t, err)
	require.Equal(t, "writer-"+strconv.Itoa(winner), string(e.Value))
}

func testCreateRace(t *testing.T, h Harness) {
	ctx := t.Context()
	stores := []state.Store{h.Open(t), h.Open(t)}
	start := make(chan struct{})
	results := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			_, results[i] = stores[i%2].Create(ctx, "lock", []byte(strconv.Itoa(i)))
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range results {
		if err == nil {
			wins++
			continue
		}
		require.ErrorIs(t, err, state.ErrConflict, "creator %d", i)
	}
	require.Equal(t, 1, wins, "exactly one creator wins")
}

// testCounter increments one counter from many writers with a CAS loop:
// no increment may be lost.
func testCounter(t *testing.T, h Harness) {
	ctx := t.Context()
	stores := []state.Store{h.Open(t), h.Open(t)}
	const perWriter = 5
	_, err := stores[0].Create(ctx, "counter", []byte("0"))
	require.NoError(t, err)

	errs := make(chan error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		s := stores[i%2]
		wg.Go(func() {
			for n := 0; n < perWriter; {
				e, err := s.Get(ctx, "counter")
				if err != nil {
					errs <- err
					return
				}
				v, _ := strconv.Atoi(string(e.Value))
				_, err = s.Update(ctx, "counter", []byte(strconv.Itoa(v+1)), e.Revision)
				switch {
				case err == nil:
					n++
				case !errors.Is(err, state.ErrConflict):
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	e, err := stores[1].Get(ctx, "counter")
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(racers*perWriter), string(e.Value))
}

func testTwoInstances(t *testing.T, h Harness) {
	ctx := t.Context()
	a, b := h.Open(t), h.Open(t)

	revA, err := a.Put(ctx, "shared/lsn", []byte("0/100"))
	require.NoError(t, err)
	e, err := b.Get(ctx, "shared/lsn")
	require.NoError(t, err, "b sees a's write")
	require.Equal(t, []byte("0/100"), e.Value)
	require.Equal(t, revA, e.Revision, "revisions are the backend's, not the instance's")

	_, err = b.Create(ctx, "shared/lsn", []byte("b"))
	require.ErrorIs(t, err, state.ErrConflict)

	revB, err := b.Update(ctx, "shared/lsn", []byte("0/200"), revA)
	require.NoError(t, err)
	_, err = a.Update(ctx, "shared/lsn", []byte("0/150"), revA)
	require.ErrorIs(t, err, state.ErrConflict, "a's revision is stale after b's update")

	e, err = a.Get(ctx, "shared/lsn")
	require.NoError(t, err)
	require.Equal(t, []byte("0/200"), e.Value)
	require.Equal(t, revB, e.Revision)

	require.NoError(t, a.Delete(ctx, "shared/lsn", revB))
	_, err = b.Get(ctx, "shared/lsn")
	require.ErrorIs(t, err, state.ErrNotFound)

	_, err = b.Put(ctx, "shared/other", []byte("x"))
	require.NoError(t, err)
	entries, err := a.List(ctx, "shared/")
	require.NoError(t, err)
	require.Equal(t, []string{"shared/other"}, keysOf(entries))
}

func testRestart(t *testing.T, h Harness) {
	if h.Restart == nil {
		t.Skip("restart not possible: " + h.NoRestart)
	}
	ctx := t.Context()
	s := h.Open(t)
	revs := map[string]uint64{}
	for _, key := range OddKeys[:5] {
		rev, err := s.Put(ctx, key, []byte("kept "+key))
		require.NoError(t, err)
		revs[key] = rev
	}
	require.NoError(t, s.Delete(ctx, OddKeys[4], 0))
	delete(revs, OddKeys[4])

	h.Restart(t)
	s = h.Open(t)
	for key, rev := range revs {
		e, err := s.Get(ctx, key)
		require.NoError(t, err, "%q survives the restart", key)
		require.Equal(t, "kept "+key, string(e.Value))
		require.Equal(t, rev, e.Revision)
	}
	_, err := s.Get(ctx, OddKeys[4])
	require.ErrorIs(t, err, state.ErrNotFound, "a delete survives the restart")

	// Compare-and-set still holds across the restart.
	_, err = s.Update(ctx, OddKeys[0], []byte("next"), revs[OddKeys[0]])
	require.NoError(t, err)
	_, err = s.Update(ctx, OddKeys[0], []byte("stale"), revs[OddKeys[0]])
	require.ErrorIs(t, err, state.ErrConflict)
	entries, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Len(t, entries, len(revs))
}
