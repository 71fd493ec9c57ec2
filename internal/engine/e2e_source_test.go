package engine_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/demo"
)

// A row whose transaction commits after a later row was already polled and
// delivered: the overlap re-reads it (docs/sources.md, "Commit safety").
// Without an overlap it is lost, the documented limit of polling, which
// the control case shows (and which shows the first case can fail).
func TestLateCommit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		overlap time.Duration
		lost    bool
	}{
		{name: "overlap re-reads it", overlap: time.Minute},
		{name: "without overlap it is lost", overlap: 0, lost: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupWith(t, options{orgs: 2, counselors: 20, config: func(c *config.Config) {
				for i := range c.Sources[0].PostgresPoll.Tables {
					tb := &c.Sources[0].PostgresPoll.Tables[i]
					tb.Lag, tb.Overlap = 500*time.Millisecond, tt.overlap
				}
			}})
			b.waitInSync(t, time.Minute)
			ctx := t.Context()
			tbl := b.db.Ident("counselors")
			insert := `INSERT INTO ` + tbl + ` (id, org_id, last_name) VALUES ($1, 'org-1', $2)`

			// Row 1001 is stamped now, in a transaction that stays open…
			tx, err := b.db.Pool.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(context.Background()) }()
			_, err = tx.Exec(ctx, insert, 1001, "Late Committer")
			require.NoError(t, err)
			// …row 1002 is stamped later and committed at once…
			b.db.Exec(t, insert, 1002, "Early Committer")
			var late, early time.Time
			require.NoError(t, tx.QueryRow(ctx, `SELECT updated_at FROM `+tbl+` WHERE id = 1001`).Scan(&late))
			require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT updated_at FROM `+tbl+` WHERE id = 1002`).Scan(&early))
			require.True(t, late.Before(early), "row 1001 is the older one")
			// …and polled and delivered while row 1001 is not committed: the
			// watermark is past row 1001 now.
			eventually(t, time.Minute, func() error {
				if name, err := b.contactLastName(1002); err != nil || name != "Early Committer" {
					return fmt.Errorf("counselor 1002 not delivered yet: %q, %v", name, err)
				}
				return nil
			})
			_, err = b.contactLastName(1001)
			require.Error(t, err, "row 1001 cannot have been read before its commit")
			require.NoError(t, tx.Commit(ctx))

			if !tt.lost {
				b.waitInSync(t, time.Minute)
				b.requireNoDeadLetters(t)
				return
			}
			// A row committed after row 1001 is read by a later poll, which
			// does not read row 1001.
			b.db.Exec(t, insert, 1003, "Marker")
			eventually(t, time.Minute, func() error {
				if _, err := b.contactLastName(1003); err != nil {
					return err
				}
				return nil
			})
			require.Equal(t, []string{"22 Contacts with Counselor_Id__c, want 23", "counselor 1001: no Contact with Counselor_Id__c 1001"}, b.diffs(t, 10))
		})
	}
}

// pgProxy stands between the source and PostgreSQL. Down, it cuts every
// connection and resets new ones, as a server that went away.
type pgProxy struct {
	ln      net.Listener
	target  string
	refused atomic.Int64

	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func newPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &pgProxy{ln: ln, target: target}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		p.setDown(true)
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				p.refused.Add(1)
				reset(c)
				continue
			}
			d, err := net.Dial("tcp", p.target)
			if err != nil {
				reset(c)
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, d)
			p.mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(d, c); _ = d.Close() })
			wg.Go(func() { _, _ = io.Copy(c, d); _ = c.Close() })
		}
	})
	return p
}

// setDown takes the server away (cutting every connection) or brings it
// back.
func (p *pgProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			reset(c)
		}
		p.conns = nil
	}
}

// reset closes c with a TCP reset.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// PostgreSQL goes away while the application keeps writing and comes back:
// the source resumes from its watermark and everything arrives.
func TestPostgresGoingAwayMidRun(t *testing.T) {
	t.Parallel()
	const counselors = 2000
	var p *pgProxy
	b := setupWith(t, options{orgs: 10, counselors: counselors, config: func(c *config.Config) {
		u, err := url.Parse(c.Sources[0].PostgresPoll.DSN.Reveal())
		require.NoError(t, err)
		p = newPGProxy(t, u.Host)
		u.Host = p.ln.Addr().String()
		c.Sources[0].PostgresPoll.DSN = config.NewSecret(u.String())
	}})
	b.waitInSync(t, 2*time.Minute)

	// The application writes on (through its own connections) the whole time.
	var (
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		changes atomic.Int64
		werr    atomic.Pointer[error]
	)
	wg.Go(func() {
		rnd := rand.New(rand.NewPCG(9, 9))
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := demo.Change(context.Background(), b.db.Pool, b.schema, rnd, counselors); err != nil {
				werr.Store(&err)
				return
			}
			changes.Add(1)
		}
	})
	stopWriting := func() {
		close(stop)
		wg.Wait()
		if e := werr.Load(); e != nil {
			require.NoError(t, *e)
		}
	}
	defer func() {
		select {
		case <-stop:
		default:
			stopWriting()
		}
	}()

	eventually(t, 30*time.Second, func() error {
		if n := changes.Load(); n < 20 {
			return fmt.Errorf("%d changes so far", n)
		}
		return nil
	})
	p.setDown(true)
	eventually(t, 30*time.Second, func() error {
		if n := p.refused.Load(); n < 3 {
			return fmt.Errorf("the source tried to reconnect %d times", n)
		}
		return nil
	})
	require.NotEmpty(t, b.diffs(t, 1), "changes made while PostgreSQL is away wait")
	p.setDown(false)
	eventually(t, 30*time.Second, func() error {
		if n := changes.Load(); n < 200 {
			return fmt.Errorf("%d changes so far", n)
		}
		return nil
	})
	stopWriting()
	b.waitInSync(t, time.Minute)
	b.requireNoDeadLetters(t)
	t.Logf("%d changes; %d connections refused while PostgreSQL was away", changes.Load(), p.refused.Load())
}
