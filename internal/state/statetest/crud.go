package statetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/state"
)

func testGetMissing(t *testing.T, h Harness) {
	s := h.Open(t)
	_, err := s.Get(t.Context(), "never/written")
	require.ErrorIs(t, err, state.ErrNotFound)
	require.ErrorContains(t, err, "never/written", "the error names the key")
}

func testPutGet(t *testing.T, h Harness) {
	ctx := t.Context()
	s := h.Open(t)
	before := time.Now().Add(-time.Minute)
	rev1, err := s.Put(ctx, "pgpoll/db/public.t", []byte("v1"))
	require.NoError(t, err)
	require.NotZero(t, rev1)

	e, err := s.Get(ctx, "pgpoll/db/public.t")
	require.NoError(t, err)
	require.Equal(t, "pgpoll/db/public.t", e.Key)
	require.Equal(t, []byte("v1"), e.Value)
	require.Equal(t, rev1, e.Revision)
	require.WithinRange(t, e.Updated, before, time.Now().Add(time.Minute))
	require.Equal(t, time.UTC, e.Updated.Location())

	rev2, err := s.Put(ctx, "pgpoll/db/public.t", []byte("v2"))
	require.NoError(t, err)
	require.Greater(t, rev2, rev1, "revisions of a key grow")
	e, err = s.Get(ctx, "pgpoll/db/public.t")
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), e.Value)
	require.Equal(t, rev2, e.Revision)
}

func testValues(t *testing.T, h Harness) {
	ctx := t.Context()
	s := h.Open(t)
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	values := map[string][]byte{
		"empty":  {},
		"nil":    nil,
		"binary": binary,
		"large":  []byte(strings.Repeat("0123456789abcdef", 4096)), // 64 KiB
	}
	for key, v := range values {
		_, err := s.Put(ctx, key, v)
		require.NoError(t, err, key)
	}
	for key, v := range values {
		e, err := s.Get(ctx, key)
		require.NoError(t, err, key)
		require.Equal(t, len(v), len(e.Value), key)
		if len(v) > 0 {
			require.Equal(t, v, e.Value, key)
		}
	}
}

func testCreate(t *testing.T, h Harness) {
	ctx := t.Context()
	s := h.Open(t)
	rev, err := s.Create(ctx, "k", []byte("first"))
	require.NoError(t, err)
	require.NotZero(t, rev)

	_, err = s.Create(ctx, "k", []byte("second"))
	require.ErrorIs(t, err, state.ErrConflict)
	e, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("first"), e.Value, "a failed Create changes nothing")
	require.Equal(t, rev, e.Revision)
}

func testUpdate(t *testing.T, h Harness) {
	ctx := t.Context()
	s := h.Open(t)
	rev1, err := s.Put(ctx, "lsn", []byte("0/10"))
	require.NoError(t, err)

	rev2, err := s.Update(ctx, "lsn", []byte("0/20"), rev1)
	require.NoError(t, err)
	require.Greater(t, rev2, rev1)

	_, err = s.Update(ctx, "lsn", []byte("stale"), rev1)
	require.ErrorIs(t, err, state.ErrConflict, "the revision moved")
	e, err := s.Get(ctx, "lsn")
	require.NoError(t, err)
	require.Equal(t, []byte("0/20"), e.Value, "a failed Update changes nothing")
	require.Equal(t, rev2, e.Revision)

	_, err = s.Update(ctx, "missing", []byte("x"), rev2)
	require.ErrorIs(t, err, state.ErrConflict, "no such key at that revision")

	_, err = s.Update(ctx, "lsn", []byte("x"), 0)
	require.Error(t, err, "Update needs an expected revision")
	require.NotErrorIs(t, err, state.ErrConflict, "expected 0 is a usage error, not a lost race")
	e, err = s.Get(ctx, "lsn")
	require.NoError(t, err)
	require.Equal(t, rev2, e.Revision)
}

func testDelete(t *testing.T, h Harness) {
	ctx := t.Context()
	s := h.Open(t)
	rev1, err := s.Put(ctx, "mark", []byte("a"))
	require.NoError(t, err)

	require.NoError(t, s.Delete(ctx, "mark", 0))
	_, err = s.Get(ctx, "mark")
	require.ErrorIs(t, err, state.ErrNotFound)
	_, err = s.Update(ctx, "mark", []byte("b"), rev1)
	require.ErrorIs(t, err, state.ErrConflict, "a delete moves the revision")
	require.NoError(t, s.Delete(ctx, "mark", 0), "deleting a deleted key succeeds")
	require.NoError(t, s.Delete(ctx, "never/written", 0), "deleting a missing key succeeds")

	rev2, err := s.Create(ctx, "mark", []byte("again"))
	require.NoError(t, err, "Create works on a deleted key")
	require.Greater(t, rev2, rev1)

	require.ErrorIs(t, s.Delete(ctx, "mark", rev1), state.ErrConflict, "stale expected revision")
	e, err := s.Get(ctx, "mark")
	require.NoError(t, err)
	require.Equal(t, []byte("again"), e.Value, "a failed Delete changes nothing")

	require.NoError(t, s.Delete(ctx, "mark", rev2))
	_, err = s.Get(ctx, "mark")
	require.ErrorIs(t, err, state.ErrNotFound)
	require.ErrorIs(t, s.Delete(ctx, "never/written", rev2), state.ErrConflict)
}

func testInvalidKeys(t *testing.T, h Harness) {
	ctx := t.Context()
	s := h.Open(t)
	long := strings.Repeat("k", state.MaxKeyLen+1)
	for _, key := range []string{"", long} {
		_, err := s.Get(ctx, key)
		require.ErrorIs(t, err, state.ErrInvalidKey)
		_, err = s.Put(ctx, key, nil)
		require.ErrorIs(t, err, state.ErrInvalidKey)
		_, err = s.Create(ctx, key, nil)
		require.ErrorIs(t, err, state.ErrInvalidKey)
		_, err = s.Update(ctx, key, nil, 1)
		require.ErrorIs(t, err, state.ErrInvalidKey)
		require.ErrorIs(t, s.Delete(ctx, key, 0), state.ErrInvalidKey)
	}
}

func testCanceled(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Put(ctx, "k", []byte("v"))
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Get(ctx, "k")
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.List(ctx, "")
	require.ErrorIs(t, err, context.Canceled)
}
