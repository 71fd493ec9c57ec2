package natskv_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
	"github.com/sfbridge/sfbridge/internal/state"
	"github.com/sfbridge/sfbridge/internal/state/natskv"
	"github.com/sfbridge/sfbridge/internal/state/statetest"
)

func open(t *testing.T, b *broker.Broker, prefix string) state.Store {
	t.Helper()
	s, err := natskv.Open(t.Context(), b, natskv.Options{Prefix: prefix})
	require.NoError(t, err)
	require.Equal(t, natskv.BucketName(prefix), s.Bucket())
	return s
}

// TestEmbedded runs the suite on an embedded server per case. Two Stores
// share its one connection: two processes cannot share an embedded server.
func TestEmbedded(t *testing.T) {
	t.Parallel()
	statetest.Run(t, func(t *testing.T) statetest.Harness {
		dir := t.TempDir()
		b := brokertest.Embedded(t, dir)
		prefix := brokertest.Prefix(t)
		return statetest.Harness{
			Open: func(t *testing.T) state.Store { return open(t, b, prefix) },
			Restart: func(t *testing.T) {
				require.NoError(t, b.Close())
				b = brokertest.Embedded(t, dir)
			},
		}
	})
}

// TestExternal runs the suite on the shared external nats-server (2.9), each
// case in its own bucket; every Store gets its own connection, as separate
// processes would.
func TestExternal(t *testing.T) {
	t.Parallel()
	statetest.Run(t, func(t *testing.T) statetest.Harness {
		prefix := brokertest.Prefix(t)
		admin := brokertest.External(t)
		t.Cleanup(func() {
			// Leave nothing behind on the shared server.
			_ = admin.JetStream().DeleteKeyValue(context.Background(), natskv.BucketName(prefix))
		})
		return statetest.Harness{
			Open:      func(t *testing.T) state.Store { return open(t, brokertest.External(t), prefix) },
			NoRestart: "the external nats-server is shared by every test (scripts/services.sh runs it); a test may not restart it",
		}
	})
}

func TestOpenIsIdempotent(t *testing.T) {
	t.Parallel()
	b := brokertest.Embedded(t, t.TempDir())
	prefix := brokertest.Prefix(t)
	first := open(t, b, prefix)
	_, err := first.Put(t.Context(), "k", []byte("v"))
	require.NoError(t, err)

	second := open(t, b, prefix)
	e, err := second.Get(t.Context(), "k")
	require.NoError(t, err, "a second Open reuses the bucket and its data")
	require.Equal(t, []byte("v"), e.Value)

	info, err := b.JetStream().KeyValue(t.Context(), natskv.BucketName(prefix))
	require.NoError(t, err)
	st, err := info.Status(t.Context())
	require.NoError(t, err)
	require.Equal(t, "JetStream", st.BackingStore())
	require.EqualValues(t, 1, st.History())
}

func TestOpenRejectsBadPrefix(t *testing.T) {
	t.Parallel()
	b := brokertest.Embedded(t, t.TempDir())
	_, err := natskv.Open(t.Context(), b, natskv.Options{Prefix: "bad.prefix"})
	require.ErrorContains(t, err, `bucket name "bad.prefixSFBRIDGE_STATE"`)
}

func TestStoredKeysAreReadable(t *testing.T) {
	t.Parallel()
	b := brokertest.Embedded(t, t.TempDir())
	prefix := brokertest.Prefix(t)
	s := open(t, b, prefix)
	_, err := s.Put(t.Context(), "pgpoll/platform_db/public.counselors", []byte("x"))
	require.NoError(t, err)
	kv, err := b.JetStream().KeyValue(t.Context(), natskv.BucketName(prefix))
	require.NoError(t, err)
	keys, err := kv.Keys(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"pgpoll.platform_db.public=2Ecounselors"}, keys, "the key as `nats kv ls` shows it")
}
