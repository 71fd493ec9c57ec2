package pgpoll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfbridge/sfbridge/internal/queue"
	"github.com/sfbridge/sfbridge/internal/record"
	"github.com/sfbridge/sfbridge/internal/source"
	"github.com/sfbridge/sfbridge/internal/state"
)

// RunStats says what one run of a table did.
type RunStats struct {
	Table string
	// Pages counts the pages read, Rows the rows in them.
	Pages, Rows int
	// Published counts the records the broker confirmed (re-read rows
	// included).
	Published int
	// Reread counts the rows read again in the overlap window.
	Reread int
	// Skipped counts rows that could not become a record (logged each).
	Skipped int
	// Watermark is the watermark saved last, nil when none was saved.
	Watermark *Position
}

// readTx runs fn in a read-only transaction with the source's
// statement_timeout and DateStyle ISO (the text forms of the watermark
// depend on it), all set LOCAL: the session keeps its own settings.
func (s *Source) readTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	timeout := strconv.FormatInt(s.cfg.StatementTimeout.Milliseconds(), 10)
	if _, err := tx.Exec(ctx, "SELECT set_config('statement_timeout', $1, true), set_config('datestyle', 'ISO', true)", timeout); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Run reads one table now, synchronously: the rows changed since its
// watermark, up to the lag, page by page. Each page is published, and only
// once the broker confirmed every record of the page is the watermark
// moved to its last row (DESIGN.md invariant 1). A run of the same table in
// progress (scheduled or triggered) is waited for: one run at a time per
// table. The scheduled loop calls it; tests and tools may too.
func (s *Source) Run(ctx context.Context, table string) (RunStats, error) {
	name, err := s.resolve(table)
	if err != nil {
		return RunStats{}, err
	}
	mu := s.runMu[name]
	mu.Lock()
	defer mu.Unlock()
	for _, tc := range s.tables {
		if tc.name == name {
			return s.run(ctx, tc)
		}
	}
	panic("unreachable: resolve returned an unknown table")
}

func (s *Source) run(ctx context.Context, tc *tableConfig) (RunStats, error) {
	stats := RunStats{Table: tc.name}
	pool, err := s.openPool()
	if err != nil {
		return stats, err
	}
	var (
		t     *table
		bound *string
	)
	err = s.readTx(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if t, err = tc.describe(ctx, tx); err != nil {
			return err
		}
		q, args := t.boundQuery()
		if err := tx.QueryRow(ctx, q, args...).Scan(&bound); err != nil {
			return fmt.Errorf("table %s: upper bound: %w", tc.name, err)
		}
		return nil
	})
	if err != nil {
		return stats, err
	}

	key := StateKey(s.name, tc.name)
	var (
		wm  *Position
		rev uint64
	)
	switch e, err := s.state.Get(ctx, key); {
	case errors.Is(err, state.ErrNotFound):
	case err != nil:
		return stats, fmt.Errorf("table %s: read watermark %s: %w", tc.name, key, err)
	default:
		p, err := ParsePosition(e.Value)
		if err != nil {
			return stats, fmt.Errorf("table %s: watermark %s: %w (fix it with sfbridge state set, or reset it)", tc.name, key, err)
		}
		if err := p.matches(tc); err != nil {
			return stats, fmt.Errorf("table %s: watermark %s: %w", tc.name, key, err)
		}
		wm, rev = &p, e.Revision
	}
	if s.afterBound != nil {
		s.afterBound()
	}
	if bound == nil {
		return stats, nil // an integer cursor on an empty table
	}
	if t.cursorKind == cursorInteger && tc.lag > 0 {
		// Rows whose cursor is at most the bound may still be committing:
		// give them the lag.
		if !s.wait(ctx, tc.lag) {
			return stats, ctx.Err()
		}
	}

	// The overlap window: re-read what lies just below the watermark, for
	// transactions that committed later than the lag. The records get the
	// IDs they had (the broker drops those it still remembers); the
	// watermark does not move.
	if tc.overlap > 0 && wm != nil {
		w := window{since: wm, through: wm, bound: *bound}
		for {
			p, err := s.readPage(ctx, pool, t, w)
			if err != nil {
				return stats, err
			}
			if p.rows == 0 {
				break
			}
			stats.Pages++
			stats.Rows += p.rows
			stats.Reread += p.rows
			stats.Skipped += p.skipped
			if err := s.publish(ctx, tc, p.msgs); err != nil {
				return stats, err
			}
			stats.Published += len(p.msgs)
			if p.rows < tc.batch {
				break
			}
			if s.isStopping() {
				return stats, nil
			}
			w.after = p.last
		}
	}

	w := window{after: wm, bound: *bound}
	for {
		p, err := s.readPage(ctx, pool, t, w)
		if err != nil {
			return stats, err
		}
		if p.rows == 0 {
			return stats, nil
		}
		stats.Pages++
		stats.Rows += p.rows
		stats.Skipped += p.skipped
		if tc.overlap == 0 {
			// Without overlap re-reads, a row is published again only after
			// a crash between this publish and the checkpoint below: one
			// page, delivered twice (harmless: upserts, the version guard).
			// So the broker need not remember every ID of a backfill in its
			// deduplication window (ADR 0003, second amendment).
			for i := range p.msgs {
				p.msgs[i].NoDedup = true
			}
		}
		if err := s.publish(ctx, tc, p.msgs); err != nil {
			return stats, err
		}
		stats.Published += len(p.msgs)
		// Invariant 1: every record up to p.last is stored by the broker;
		// only now may the watermark pass it.
		if rev, err = s.save(ctx, key, *p.last, rev); err != nil {
			return stats, err
		}
		stats.Watermark = p.last
		if p.rows < tc.batch || s.isStopping() {
			return stats, nil
		}
		w.after = p.last
	}
}

// wait sleeps d unless ctx ends or the source stops; false when cut short.
func (s *Source) wait(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.stopping:
		return false
	}
}

func (s *Source) publish(ctx context.Context, tc *tableConfig, msgs []queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := s.awaitBackpressure(ctx); err != nil {
		return fmt.Errorf("table %s: waiting to publish %d records until the queue's backlog drains: %w", tc.name, len(msgs), err)
	}
	if err := s.queue.Publish(ctx, msgs...); err != nil {
		return fmt.Errorf("table %s: publish %d records: %w", tc.name, len(msgs), err)
	}
	return nil
}

// awaitBackpressure waits until Options.Backpressure lets the next page
// be published. The page's transaction is already committed: a long wait
// holds no snapshot and no connection. Stop ends the wait.
func (s *Source) awaitBackpressure(ctx context.Context) error {
	if s.backpressure == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.stopCtx, cancel)()
	err := s.backpressure(ctx)
	if err != nil && s.isStopping() {
		return fmt.Errorf("source %s stopped: %w", s.name, source.ErrNotRunning)
	}
	return err
}

// save writes the watermark with compare-and-set on the revision the run
// read, so a watermark moved meanwhile (sfbridge state set/reset, another
// process) is not overwritten: the run stops and the next one starts from
// it. Returns the new revision.
func (s *Source) save(ctx context.Context, key string, p Position, rev uint64) (uint64, error) {
	value, err := p.Marshal()
	if err != nil {
		return rev, err
	}
	if rev == 0 {
		rev, err = s.state.Create(ctx, key, value)
	} else {
		rev, err = s.state.Update(ctx, key, value, rev)
	}
	if errors.Is(err, state.ErrConflict) {
		return 0, fmt.Errorf("watermark %s changed during the run (sfbridge state, or another sfbridge process); this run stops and the next starts from the stored watermark: %w", key, err)
	}
	if err != nil {
		return 0, fmt.Errorf("save watermark %s: %w", key, err)
	}
	return rev, nil
}

// page is one page read and turned into messages.
type page struct {
	rows    int
	skipped int
	msgs    []queue.Message
	last    *Position // the page's last row, skipped or not
}

// readPage reads one page in its own read-only transaction, held only
// while the rows are read.
func (s *Source) readPage(ctx context.Context, pool *pgxpool.Pool, t *table, w window) (page, error) {
	var p page
	sql, args := t.pageQuery(w)
	subject := source.Subject(s.name, t.name)
	now := time.Now().UTC()
	err := s.readTx(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			p.rows++
			pos, msg, err := s.message(t, vals, subject, now)
			if pos != nil {
				p.last = pos
			}
			if err != nil {
				p.skipped++
				attrs := []any{"table", t.name, "err", err}
				if pos != nil {
					attrs = append(attrs, "cursor", pos.Cursor, "key", pos.Key)
				}
				s.log.Error("postgres_poll: row skipped: it cannot become a record", attrs...)
				continue
			}
			p.msgs = append(p.msgs, msg)
		}
		return rows.Err()
	})
	if err != nil {
		return page{}, fmt.Errorf("table %s: read a page: %w", t.name, err)
	}
	if p.rows > 0 && p.last == nil {
		return page{}, fmt.Errorf("table %s: read a page: no row had a usable cursor and key", t.name)
	}
	return p, nil
}

// message turns one row into a record message. The position comes back
// whenever the row's cursor and key are readable, even when the record
// cannot be built (the watermark passes the row; its reason is logged).
func (s *Source) message(t *table, vals []any, subject string, now time.Time) (*Position, queue.Message, error) {
	n := len(t.cols)
	texts := vals[n:]
	cursorText, ok := texts[0].(string)
	if !ok {
		return nil, queue.Message{}, fmt.Errorf("cursor %q is null", t.cursor)
	}
	pos := &Position{Table: t.name, CursorColumn: t.cursor, KeyColumns: t.key, Cursor: cursorText, Key: make([]string, len(t.key))}
	for i := range t.key {
		k, ok := texts[1+i].(string)
		if !ok {
			return nil, queue.Message{}, fmt.Errorf("key column %q is null", t.key[i])
		}
		pos.Key[i] = k
	}
	framed, err := pos.Marshal()
	if err != nil {
		return pos, queue.Message{}, err
	}

	payload := make(map[string]any, n)
	for i, c := range t.cols {
		v, err := payloadValue(c, vals[i])
		if err != nil {
			return pos, queue.Message{}, err
		}
		payload[c.name] = v
	}
	key := make(record.Key, len(t.key))
	for i, k := range t.key {
		key[i] = record.KeyField{Name: k, Value: payload[k]}
	}
	version, err := cursorVersion(vals[t.cursorIdx])
	if err != nil {
		return pos, queue.Message{}, fmt.Errorf("cursor %q: %w", t.cursor, err)
	}
	op := record.OpUpsert
	if sd := t.softDelete; sd != nil {
		v, set := texts[1+len(t.key)].(string)
		if set && (sd.Value == "" || v == sd.Value) {
			op = record.OpDelete
		}
	}
	id, err := record.DeriveID(s.name, t.name, key, version)
	if err != nil {
		return pos, queue.Message{}, err
	}
	data, err := record.Encode(record.Record{
		ID:         id,
		Source:     s.name,
		Collection: t.name,
		Op:         op,
		Key:        key,
		Version:    version,
		Position:   framed,
		Time:       now,
		Payload:    payload,
	})
	if err != nil {
		return pos, queue.Message{}, err
	}
	// The ID travels in a header too; 64 bytes cover the header framing.
	if size := len(data) + len(id) + 64; s.maxMsg > 0 && size > s.maxMsg {
		return pos, queue.Message{}, fmt.Errorf("its record is %d bytes, more than the queue's largest message (%d bytes); leave big columns out with columns:", size, s.maxMsg)
	}
	return pos, queue.Message{Subject: subject, ID: id, Data: data}, nil
}

// The microsecond range a record.Version's time can hold: years 0–9999.
const (
	minMicros = -62167219200000000
	maxMicros = 253402300799999999
)

// cursorVersion is the record version of a cursor value. A timestamp is a
// time version (record.TimeVersion). An integer c is a time version too,
// c microseconds after the Unix epoch, so versions order as the cursor
// does; beyond year 9999 (c > maxMicros, e.g. nanoseconds since the epoch)
// the excess goes into the tie-breaker, which keeps the order.
func cursorVersion(v any) (record.Version, error) {
	switch x := v.(type) {
	case time.Time:
		if y := x.UTC().Year(); y < 0 || y > 9999 {
			return record.Version{}, fmt.Errorf("timestamp %s is outside years 0–9999", x)
		}
		return record.TimeVersion(x, 0), nil
	case pgtype.InfinityModifier:
		if x == pgtype.NegativeInfinity {
			return record.TimeVersion(time.UnixMicro(minMicros), 0), nil
		}
		return record.TimeVersion(time.UnixMicro(maxMicros), 0), nil
	case int16:
		return intVersion(int64(x))
	case int32:
		return intVersion(int64(x))
	case int64:
		return intVersion(x)
	}
	return record.Version{}, fmt.Errorf("unexpected cursor value of type %T", v)
}

func intVersion(c int64) (record.Version, error) {
	switch {
	case c > maxMicros:
		return record.TimeVersion(time.UnixMicro(maxMicros), uint64(c-maxMicros)), nil
	case c < minMicros:
		return record.Version{}, fmt.Errorf("cursor value %d is below %d, the smallest a version holds", c, int64(minMicros))
	}
	return record.TimeVersion(time.UnixMicro(c), 0), nil
}

// unavailable reports whether err means PostgreSQL could not be reached
// or dropped the connection (as opposed to refusing a query).
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03", "53300": // shutdown, crash, starting, too many connections
			return true
		}
		return len(pe.Code) == 5 && pe.Code[:2] == "08" // connection exception
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err)
}
