package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/state"
)

// ledger keeps each failing message's record-level failures in the state
// store (key "attempts/<sync>/<message id>"), so that the count that
// decides max_attempts and the history a DLQ entry shows survive restarts.
//
// The exact rule for max_attempts (DESIGN.md invariant 3): a record goes to
// the DLQ when the ledger holds max_attempts failures. Only record-level
// errors write to the ledger; the broker's delivery count (Attempt) is used
// only to skip the ledger read on a first delivery, because it also counts
// deliveries that failed nothing: a redelivery after a crash or a stop, a
// fetch abandoned on shutdown, records handed back during an outage. So
// none of those spend an attempt.
//
// The entry is written on each record-level failure and deleted when the
// record ends (delivered, superseded, dead-lettered); a first delivery (the
// common case) never touches it.
type ledger struct {
	st     state.Store
	prefix string
}

func newLedger(st state.Store, sync string) *ledger {
	return &ledger{st: st, prefix: "attempts/" + sync + "/"}
}

type ledgerDoc struct {
	V        int           `json:"v"`
	Attempts []dlq.Attempt `json:"attempts"`
}

// load returns the failures recorded for messageID (none when there is no
// entry or it cannot be read).
func (l *ledger) load(ctx context.Context, messageID string) ([]dlq.Attempt, error) {
	e, err := l.st.Get(ctx, l.prefix+messageID)
	if errors.Is(err, state.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d ledgerDoc
	if err := json.Unmarshal(e.Value, &d); err != nil || d.V != 1 {
		return nil, fmt.Errorf("attempt ledger %s is unreadable; counting from zero", e.Key)
	}
	return d.Attempts, nil
}

// save writes the failures of messageID.
func (l *ledger) save(ctx context.Context, messageID string, attempts []dlq.Attempt) error {
	b, err := json.Marshal(ledgerDoc{V: 1, Attempts: attempts})
	if err != nil {
		return err
	}
	_, err = l.st.Put(ctx, l.prefix+messageID, b)
	return err
}

// clear removes the entry of messageID.
func (l *ledger) clear(ctx context.Context, messageID string) error {
	return l.st.Delete(ctx, l.prefix+messageID, 0)
}
