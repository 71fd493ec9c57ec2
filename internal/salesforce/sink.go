package salesforce

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// DefaultBulkThreshold is the batch size from which Sink uses Bulk API 2.0
// (Salesforce's own advice is "above about 2,000 records").
const DefaultBulkThreshold = 2000

// SinkConfig tunes a Sink. Zero values take the defaults.
type SinkConfig struct {
	// BulkThreshold: batches of at least this many rows go through Bulk API
	// 2.0, smaller ones through sObject Collections (default 2,000).
	BulkThreshold int
	// CollectionSize is the rows per Collections call (default and at most 200).
	CollectionSize int
	// NoLockRetry turns off the one serial retry of rows that failed with
	// UNABLE_TO_LOCK_ROW inside a Write.
	NoLockRetry bool
}

// Sink writes batches of rows into one org by external ID. It is what the
// delivery loop hands its batches to: it picks the API by batch size, keeps
// each key once per request (later duplicates go in a later request, so
// the newest row is written last), and returns one Result per row.
type Sink struct {
	c   *Client
	cfg SinkConfig
}

// NewSink returns a Sink writing through c.
func NewSink(c *Client, cfg SinkConfig) (*Sink, error) {
	if cfg.BulkThreshold == 0 {
		cfg.BulkThreshold = DefaultBulkThreshold
	}
	if cfg.CollectionSize == 0 {
		cfg.CollectionSize = CollectionLimit
	}
	var errs []error
	if cfg.BulkThreshold < 1 {
		errs = append(errs, fmt.Errorf("bulk_threshold: must be ≥ 1, got %d", cfg.BulkThreshold))
	}
	if cfg.CollectionSize < 1 || cfg.CollectionSize > CollectionLimit {
		errs = append(errs, fmt.Errorf("collection_size: must be in 1..%d, got %d", CollectionLimit, cfg.CollectionSize))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("salesforce: invalid sink config: %w", err)
	}
	return &Sink{c: c, cfg: cfg}, nil
}

// Client returns the client the sink writes through.
func (s *Sink) Client() *Client { return s.c }

// Write upserts rows into object by extField and returns one Result per
// row, in order. Batches of BulkThreshold rows or more go through Bulk API
// 2.0, smaller ones through sObject Collections (≤200 rows per call, calls
// in parallel up to the client's concurrency limit). A key repeated in the
// batch is written again after the first pass (the later row last), by
// whichever API suits that smaller pass. Rows failing with
// UNABLE_TO_LOCK_ROW are retried once, serially, before Write returns.
//
// The error is for invalid arguments only (no row was sent); everything
// else — request-level failures included — is in the results.
func (s *Sink) Write(ctx context.Context, object, extField string, rows []map[string]any) ([]Result, error) {
	out, valid, err := prepareUpsert(object, extField, rows)
	if err != nil {
		return nil, err
	}
	spec := bulkSpec{object: object, operation: "upsert", extField: extField, keyCol: extField}
	for _, wave := range uniqueWaves(valid, (*prepared).keyFold) {
		if len(wave) >= s.cfg.BulkThreshold {
			s.c.bulkUpsertWave(ctx, spec, wave, out, s.cfg.CollectionSize)
		} else {
			s.c.upsertChunks(ctx, object, extField, wave, out, s.cfg.CollectionSize, true)
		}
		if !s.cfg.NoLockRetry {
			var locked []*prepared
			for _, p := range wave {
				if isLockError(out[p.index].Err) {
					locked = append(locked, p)
				}
			}
			s.c.upsertChunks(ctx, object, extField, locked, out, s.cfg.CollectionSize, false)
		}
	}
	return out, nil
}

// isLockError reports whether err is a record-level lock failure.
func isLockError(err error) bool {
	var re *RecordError
	if !errors.As(err, &re) {
		return false
	}
	switch normCode(re.Code) {
	case "UNABLETOLOCKROW", "TOOMANYLOCKFAILURE":
		return true
	}
	return false
}

// Delete deletes the records of object whose extField is one of keys (see
// Client.DeleteByExternalID), through Bulk API 2.0 when there are at least
// BulkThreshold of them. One Result per key; a key with no record is a
// success with an empty ID.
func (s *Sink) Delete(ctx context.Context, object, extField string, keys []any) ([]Result, error) {
	return s.c.deleteByExternalID(ctx, object, extField, keys, len(keys) >= s.cfg.BulkThreshold)
}

// upsertChunks upserts ps (unique keys) in Collections calls of size
// rows, in parallel unless parallel is false.
func (c *Client) upsertChunks(ctx context.Context, object, extField string, ps []*prepared, out []Result, size int, parallel bool) {
	var wg sync.WaitGroup
	for start := 0; start < len(ps); start += size {
		chunk := ps[start:min(start+size, len(ps))]
		run := func() {
			if err := c.upsertPrepared(ctx, object, extField, chunk, out); err != nil {
				fail(chunk, out, err)
			}
		}
		if !parallel {
			run()
			continue
		}
		wg.Go(run)
	}
	wg.Wait()
}
