package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/broker/brokertest"
)

func TestEmbeddedSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()

	b := brokertest.Embedded(t, dir)
	require.True(t, b.IsEmbedded())
	_, err := b.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	_, err = b.JetStream().Publish(ctx, "s.1", []byte("kept"))
	require.NoError(t, err)
	require.NoError(t, b.Close())

	b2 := brokertest.Embedded(t, dir)
	st, err := b2.JetStream().Stream(ctx, "S")
	require.NoError(t, err)
	msg, err := st.GetLastMsgForSubject(ctx, "s.1")
	require.NoError(t, err)
	require.Equal(t, "kept", string(msg.Data))
}

func TestEmbeddedNeedsDataDir(t *testing.T) {
	t.Parallel()
	_, err := broker.Open(context.Background(), broker.Options{URL: broker.Embedded})
	require.ErrorContains(t, err, "data_dir")
}

func TestExternal(t *testing.T) {
	t.Parallel()
	b := brokertest.External(t)
	require.False(t, b.IsEmbedded())
	_, err := b.JetStream().AccountInfo(context.Background())
	require.NoError(t, err)
}

func TestUnreachableIsTypedAndRedacted(t *testing.T) {
	t.Parallel()
	_, err := broker.Open(context.Background(), broker.Options{
		URL:            "nats://user:s3cret@127.0.0.1:1",
		ConnectTimeout: 500 * time.Millisecond,
	})
	require.Error(t, err)
	require.True(t, errors.Is(err, broker.ErrUnreachable))
	require.NotContains(t, err.Error(), "s3cret")
	require.Contains(t, err.Error(), "REDACTED")
}

func TestEmbeddedStoreIsLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := brokertest.Embedded(t, dir)
	_, err := broker.Open(context.Background(), broker.Options{URL: broker.Embedded, DataDir: dir})
	require.ErrorIs(t, err, broker.ErrLocked)
	require.ErrorContains(t, err, "in use by another sfbridge process")
	require.NoError(t, b.Close())
	b2, err := broker.Open(context.Background(), broker.Options{URL: broker.Embedded, DataDir: dir})
	require.NoError(t, err)
	require.NoError(t, b2.Close())
}
