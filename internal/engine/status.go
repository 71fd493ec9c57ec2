package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sfbridge/sfbridge/internal/deliver"
	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/web"
)

// countingPublisher counts what a source had stored by the broker.
type countingPublisher struct {
	next interface {
		Publish(context.Context, ...queue.Message) error
	}
	published atomic.Uint64
	lastNanos atomic.Int64
}

func (p *countingPublisher) Publish(ctx context.Context, msgs ...queue.Message) error {
	err := p.next.Publish(ctx, msgs...)
	if err == nil {
		p.published.Add(uint64(len(msgs)))
		p.lastNanos.Store(time.Now().UnixNano())
	}
	return err
}

// MaxMessageSize passes on the queue's largest message, so a source can
// pass over a record that would be too large instead of failing its batch.
func (p *countingPublisher) MaxMessageSize() int {
	if m, ok := p.next.(interface{ MaxMessageSize() int }); ok {
		return m.MaxMessageSize()
	}
	return 0
}

// statusTimeout bounds the broker look-ups of one status snapshot.
const statusTimeout = 2 * time.Second

// Status is a snapshot of the daemon (web.Provider).
func (e *Engine) Status(ctx context.Context) web.Status {
	st := web.Status{Version: e.opts.Version, Started: e.started}
	if err := e.Ready(); err != nil {
		st.NotReady = err.Error()
	} else {
		st.Ready = true
	}
	if e.broker != nil {
		st.Broker = e.broker.Describe()
	}
	if e.sf != nil {
		u := e.sf.Usage()
		limit, inflight := e.sf.Concurrency()
		st.Salesforce = web.SalesforceStatus{APIUsed: u.Used, APIMax: u.Max, Concurrency: limit, InFlight: inflight}
	}
	for _, s := range e.sources {
		ss := web.SourceStatus{Name: s.cfg.Name, Type: string(s.cfg.Type), State: s.bp.state(), Published: s.pub.published.Load()}
		if r, ok := s.src.(rejections); ok {
			ss.Rejected, ss.Quarantined = r.rejected()
		}
		if n := s.pub.lastNanos.Load(); n != 0 {
			ss.LastRun = time.Unix(0, n)
		}
		st.Sources = append(st.Sources, ss)
	}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	st.Syncs = make([]web.SyncStatus, len(e.loops))
	var wg sync.WaitGroup
	for i, d := range e.loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.Syncs[i] = e.syncStatus(ctx, i, d)
		}()
	}
	wg.Wait()
	return st
}

func (e *Engine) syncStatus(ctx context.Context, i int, d *deliver.Deliverer) web.SyncStatus {
	s := d.Stats()
	ss := web.SyncStatus{
		Name: d.Name(), Object: e.syncs[i].Object(), State: "running",
		Delivered: uint64(s.Delivered), Superseded: uint64(s.Superseded), Filtered: uint64(s.Filtered),
		DeadLettered: uint64(s.DeadLettered), Retried: uint64(s.Retried), InFlight: int(s.InFlight),
		Guard: s.Guard,
	}
	if s.CatchingUp {
		ss.Guard += " (catching up)"
	}
	switch {
	case s.Stopped != "":
		ss.State, ss.StateReason = "stopped", s.Stopped
	case s.Circuit.State != deliver.CircuitClosed && s.Circuit.State != "":
		ss.State, ss.StateReason = "circuit_open", s.Circuit.LastError
	}
	if cs, err := e.cons[i].Stats(ctx); err == nil {
		ss.Pending = cs.Pending
	}
	if n, err := e.deadLetters().Count(ctx, d.Name()); err == nil {
		ss.DLQ = n
	}
	return ss
}
