package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/queue"
)

func TestBatchError(t *testing.T) {
	t.Parallel()
	msgs := make([]queue.Message, 10)
	for i := range msgs {
		msgs[i].Subject = fmt.Sprintf("in.s.%d", i)
	}
	be := queue.NewBatchError(msgs)
	require.NoError(t, be.OrNil())
	require.Empty(t, be.Failed())

	be.Errs[3] = errors.New("boom")
	be.Errs[7] = fmt.Errorf("waiting: %w", context.Canceled)
	err := be.OrNil()
	require.Error(t, err)
	require.Equal(t, []int{3, 7}, be.Failed())
	require.Equal(t, "queue: 2 of 10 messages not stored: #3 (in.s.3): boom; #7 (in.s.7): waiting: context canceled", err.Error())
	require.ErrorIs(t, err, context.Canceled)

	var got *queue.BatchError
	require.ErrorAs(t, fmt.Errorf("publish: %w", err), &got)
	require.Equal(t, []int{3, 7}, got.Failed())
}

func TestBatchErrorNamesAtMostFive(t *testing.T) {
	t.Parallel()
	be := queue.NewBatchError(make([]queue.Message, 8))
	for i := range be.Errs {
		be.Errs[i] = errors.New("x")
	}
	require.Equal(t, "queue: 8 of 8 messages not stored: #0: x; #1: x; #2: x; #3: x; #4: x; and 3 more", be.Error())
}
