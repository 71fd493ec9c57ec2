package engine_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/deliver"
	"github.com/sfbridge/sfbridge/internal/demo"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// 1% of the rows fail a validation rule: exactly those reach the DLQ, with
// Salesforce's code, message and fields; everything else is delivered.
// Once the rule is lifted, replaying the DLQ delivers them.
func TestValidationRuleFailuresGoToTheDLQAndReplay(t *testing.T) {
	t.Parallel()
	const (
		counselors = 2000
		code       = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
		message    = "Hours can only be logged by a supervisor"
	)
	var keys, wantKeys []string // every 100th counselor: 1%
	want := []string{fmt.Sprintf("%d Contacts with Counselor_Id__c, want %d", counselors-counselors/100, counselors)}
	for id := 100; id <= counselors; id += 100 {
		keys = append(keys, strconv.Itoa(id))
		wantKeys = append(wantKeys, fmt.Sprintf(`[["id",%d]]`, id))
		want = append(want, fmt.Sprintf("counselor %d: no Contact with Counselor_Id__c %d", id, id))
	}
	sort.Strings(want)
	b := setupWith(t, options{orgs: 10, counselors: counselors, faults: &sfemu.FaultConfig{Records: []sfemu.RecordFault{{
		Object: "Contact", Keys: keys, Error: code, Message: message, Fields: []string{"Hours_Available__c"},
	}}}})
	ctx := t.Context()
	store := dlq.NewStore(b.eng.Queue())

	eventually(t, 2*time.Minute, func() error {
		n, err := store.Count(ctx, "counselors")
		if err != nil {
			return err
		}
		if d := b.diffs(t, 2*len(want)); !slices.Equal(d, want) || n != uint64(len(keys)) {
			return fmt.Errorf("%d DLQ entries (want %d); differences:\n  %v\nwant exactly:\n  %v", n, len(keys), d, want)
		}
		return nil
	})
	items, next, err := store.List(ctx, dlq.Filter{}, 0, 10*len(keys))
	require.NoError(t, err)
	require.Zero(t, next)
	require.Len(t, items, len(keys), "only the counselors sync dead-lettered anything")
	var got []string
	for _, it := range items {
		require.NoError(t, it.Err)
		e := it.Entry
		require.Equal(t, "counselors", e.Sync)
		require.Equal(t, dlq.ReasonPermanent, e.Reason)
		require.Equal(t, code, e.Code)
		require.Equal(t, message, e.Message)
		require.Equal(t, []string{"Hours_Available__c"}, e.Fields)
		// The permanent error ends the record at once; before it there may
		// be retryable failures only (a Contact written before its Account
		// fails with the parent's external ID not found, and is retried).
		last := e.Attempts[len(e.Attempts)-1]
		require.Equal(t, code, last.Code)
		require.Equal(t, "permanent", last.Class)
		for _, a := range e.Attempts[:len(e.Attempts)-1] {
			require.NotEqual(t, "permanent", a.Class, "a permanent error is not retried: %+v", e.Attempts)
		}
		require.NotNil(t, e.Record)
		require.Equal(t, "upsert", e.Record.Op)
		got = append(got, e.Record.Key)
	}
	require.ElementsMatch(t, wantKeys, got)
	require.EqualValues(t, len(keys), b.deliverer(t, "counselors").Stats().DeadLettered)
	require.Zero(t, b.deliverer(t, "organisations").Stats().DeadLettered)
	require.EqualValues(t, len(keys), b.syncStatus(t, "counselors").DLQ)

	// The rule is lifted; replay every entry through the running engine's
	// queue (the embedded store is the engine's: `sfbridge dlq replay`
	// would be refused while it runs).
	b.emu.Faults().Clear()
	for _, it := range items {
		r, err := store.Replay(ctx, it.Seq)
		require.NoError(t, err)
		require.Equal(t, "counselors", r.Sync)
	}
	b.waitInSync(t, time.Minute)
	n, err := store.Count(ctx, "")
	require.NoError(t, err)
	require.Zero(t, n, "the DLQ is empty after the replay")
	require.EqualValues(t, len(keys), b.deliverer(t, "counselors").Stats().DeadLettered, "no replayed record failed again")
}

// Sessions expire again and again while a backfill and changes flow: the
// client logs in again and nothing is lost or dead-lettered.
func TestSessionsExpiringMidRun(t *testing.T) {
	t.Parallel()
	const counselors = 3000
	b := setupWith(t, options{orgs: 10, counselors: counselors, faults: &sfemu.FaultConfig{
		// Slow calls down a little, so that sessions expire under calls in flight.
		Latency: []sfemu.LatencyFault{{Match: sfemu.Match{Endpoint: "collections.*"}, Fixed: sfemu.Duration(20 * time.Millisecond)}},
	}})
	org := b.emu.Org()

	var (
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		expired int
	)
	wg.Go(func() {
		tick := time.NewTicker(150 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if org.ExpireSessions() > 0 {
					expired++
				}
			}
		}
	})
	rnd := rand.New(rand.NewPCG(11, 11))
	for range 300 {
		_, err := demo.Change(t.Context(), b.db.Pool, b.schema, rnd, counselors)
		require.NoError(t, err)
	}
	// Keep expiring sessions until everything is there.
	eventually(t, 2*time.Minute, func() error {
		if d := b.diffs(t, 5); len(d) > 0 {
			return fmt.Errorf("not in sync: %v", d)
		}
		return nil
	})
	close(stop)
	wg.Wait()
	b.waitInSync(t, time.Minute)

	require.GreaterOrEqual(t, expired, 3, "sessions expired while the run went on")
	tokens := org.Counters().Calls["oauth.token"]
	require.GreaterOrEqual(t, tokens, int64(3), "the client logged in again after sessions expired")
	b.requireNoDeadLetters(t)
	t.Logf("sessions expired %d times; %d tokens fetched", expired, tokens)
}

// The org's daily API allowance runs out: delivery pauses (the circuit
// opens; no attempt spent, nothing dead-lettered) and resumes once the
// allowance is raised.
func TestDailyAPILimitPausesAndResumes(t *testing.T) {
	t.Parallel()
	const counselors = 1000
	b := setupWith(t, options{orgs: 10, counselors: counselors,
		// Once the allowance is gone the client holds calls for this long
		// before one probe (salesforce.budget_wait, 15m by default; the
		// config accepts 1s at least).
		config: func(c *config.Config) { c.Salesforce.BudgetWait = time.Second }})
	b.waitInSync(t, 2*time.Minute)
	org := b.emu.Org()
	contacts := b.deliverer(t, "counselors")
	before := contacts.Stats()

	used, _ := org.APIUsage()
	org.SetAPILimit(used) // every further call is refused: REQUEST_LIMIT_EXCEEDED
	rnd := rand.New(rand.NewPCG(5, 5))
	for range 100 {
		_, err := demo.Change(t.Context(), b.db.Pool, b.schema, rnd, counselors)
		require.NoError(t, err)
	}
	eventually(t, time.Minute, func() error {
		if st := contacts.Stats().Circuit.State; st == deliver.CircuitClosed {
			return errors.New("the counselors circuit is still closed")
		}
		return nil
	})
	st := b.syncStatus(t, "counselors")
	require.Equal(t, "circuit_open", st.State)
	// Salesforce's refusal, or the client holding calls until its probe.
	require.Regexp(t, `REQUEST_LIMIT_EXCEEDED|daily API (limit exceeded|budget)`, st.StateReason)
	// Paused: the changes wait, no call got through, no attempt was spent.
	require.NotEmpty(t, b.diffs(t, 1), "the changes are held while the allowance is used up")
	nowUsed, _ := org.APIUsage()
	require.Equal(t, used, nowUsed, "no call was counted beyond the allowance")
	after := contacts.Stats()
	require.Equal(t, before.Retried, after.Retried, "an outage spends no attempts")
	b.requireNoDeadLetters(t)

	org.SetAPILimit(used + 100_000)
	b.waitInSync(t, time.Minute)
	b.requireNoDeadLetters(t)
	require.Equal(t, before.Retried, contacts.Stats().Retried, "an outage spends no attempts")
	require.Equal(t, deliver.CircuitClosed, contacts.Stats().Circuit.State)
}

// Two updates of one row, the older one retried last: the older version
// fails once (a lock), the newer one is delivered meanwhile, and when the
// older one comes back it is superseded; Salesforce keeps the newer. With
// either version guard (delivery.version_guard; ADR 0004).
func TestOlderVersionRetriedLastDoesNotOverwrite(t *testing.T) {
	t.Parallel()
	for guard, want := range map[config.VersionGuard]string{
		config.GuardAuto:       deliver.GuardStreamOrder,
		config.GuardStateStore: deliver.GuardStateStore,
	} {
		t.Run(string(guard), func(t *testing.T) {
			t.Parallel()
			olderVersionRetriedLast(t, guard, want)
		})
	}
}

func olderVersionRetriedLast(t *testing.T, guard config.VersionGuard, wantGuard string) {
	const (
		id    = 7
		older = "Older Version"
		newer = "Newer Version"
	)
	b := setupWith(t, options{orgs: 2, counselors: 20,
		// The lock fails the older version's first delivery only: its write
		// and the sink's one serial retry of a locked row (times: 2). It
		// matches the value, not the key, so the newer version is not
		// affected.
		faults: &sfemu.FaultConfig{Records: []sfemu.RecordFault{{Object: "Contact", Field: "LastName", Keys: []string{older}, Times: 2}}},
		// The older version comes back after 4-5s: the newer one has long
		// been delivered by then.
		config: func(c *config.Config) {
			c.Delivery.Backoff.Initial, c.Delivery.Backoff.Max = 5*time.Second, 30*time.Second
			c.Delivery.VersionGuard = guard
		},
	})
	b.waitInSync(t, time.Minute)
	contacts := b.deliverer(t, "counselors")
	before := contacts.Stats()
	require.Equal(t, wantGuard, before.Guard)
	update := func(name string) {
		b.db.Exec(t, `UPDATE `+b.db.Ident("counselors")+` SET last_name = $1, updated_at = clock_timestamp() WHERE id = $2`, name, id)
	}

	update(older)
	eventually(t, 30*time.Second, func() error {
		if s := contacts.Stats(); s.Retried != before.Retried+1 {
			return fmt.Errorf("the older version was not nacked yet: %+v", s)
		}
		return nil
	})
	require.Equal(t, []int64{2}, b.emu.Faults().Status().RecordsFired)
	update(newer)
	eventually(t, 30*time.Second, func() error {
		if name, err := b.contactLastName(id); err != nil || name != newer {
			return fmt.Errorf("Contact %d: LastName %q (%v), want %q", id, name, err, newer)
		}
		return nil
	})
	require.Equal(t, before.Superseded, contacts.Stats().Superseded,
		"the older version came back before the newer was delivered: the test needs a longer backoff on this machine")
	eventually(t, time.Minute, func() error {
		if s := contacts.Stats(); s.Superseded == before.Superseded {
			return fmt.Errorf("the older version was not superseded yet: %+v", s)
		}
		return nil
	})
	name, err := b.contactLastName(id)
	require.NoError(t, err)
	require.Equal(t, newer, name, "Salesforce keeps the newer version")
	require.Equal(t, before.Retried+1, contacts.Stats().Retried, "the older version was retried once")
	b.waitInSync(t, time.Minute)
	b.requireNoDeadLetters(t)
}

// A 100,000-row backfill ends in sync.
func TestBackfill100k(t *testing.T) {
	t.Parallel()
	counselors := 100_000
	if testing.Short() {
		counselors = 10_000
	}
	b := setup(t, 100, counselors)
	start := time.Now()
	// Count first (cheap), then compare every row.
	eventually(t, 10*time.Minute, func() error {
		if n := b.emu.Org().ObjectCounts()["Contact"]; n < counselors {
			return fmt.Errorf("%d of %d Contacts", n, counselors)
		}
		return nil
	})
	b.waitInSync(t, time.Minute)
	t.Logf("%d counselors in sync after %s", counselors, time.Since(start).Round(time.Millisecond))
	b.requireNoDeadLetters(t)
	require.Equal(t, counselors, b.emu.Org().ObjectCounts()["Contact"])
	// Each sync reads one table on the embedded broker: the version guard
	// works in stream order and keeps nothing per key (ADR 0004).
	for _, s := range b.eng.Status(t.Context()).Syncs {
		require.Equal(t, deliver.GuardStreamOrder, s.Guard, s.Name)
	}
	// Only the redeliveries of records that came back (a Contact polled
	// before its Account) went through the state store.
	for _, d := range b.eng.Deliverers() {
		st := d.Stats()
		require.LessOrEqual(t, st.Durable, st.Retried+st.Released, "%s: %+v", d.Name(), st)
	}
}
