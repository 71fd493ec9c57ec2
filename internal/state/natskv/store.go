package natskv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sfbridge/sfbridge/internal/broker"
	"github.com/sfbridge/sfbridge/internal/state"
)

// Bucket is the bucket's name without prefix.
const Bucket = "SFBRIDGE_STATE"

// Options configure the bucket.
type Options struct {
	// Prefix is prepended to Bucket, so several deployments (or tests) can
	// share one JetStream. Letters, digits, '_' and '-' only.
	Prefix string
	// Replicas is the bucket's replication on a cluster; 0 means 1. Used only
	// when this Open creates the bucket.
	Replicas int
}

// BucketName returns the bucket a Store with this prefix uses.
func BucketName(prefix string) string { return prefix + Bucket }

var validBucket = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// Store is a state.Store on a JetStream KV bucket. It is safe for
// concurrent use and does not own the broker.
type Store struct {
	kv jetstream.KeyValue
}

// Open opens the state bucket on b, creating it if it does not exist.
func Open(ctx context.Context, b *broker.Broker, opts Options) (*Store, error) {
	name := BucketName(opts.Prefix)
	if !validBucket.MatchString(name) {
		return nil, fmt.Errorf("natskv: bucket name %q: prefix may hold only letters, digits, '_' and '-'", name)
	}
	js := b.JetStream()
	kv, err := js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      name,
			Description: "sfbridge state: watermarks, LSNs, file marks, per-key versions",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    max(opts.Replicas, 1),
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			// Another process created it between our two calls.
			kv, err = js.KeyValue(ctx, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("natskv: open bucket %s on %s: %w", name, b.Describe(), err)
	}
	return &Store{kv: kv}, nil
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.kv.Bucket() }

// Get implements state.Store.
func (s *Store) Get(ctx context.Context, key string) (state.Entry, error) {
	enc, err := encodeKey(key)
	if err != nil {
		return state.Entry{}, err
	}
	e, err := s.kv.Get(ctx, enc)
	if err != nil {
		return state.Entry{}, s.wrap("get", key, err)
	}
	return entry(key, e), nil
}

// Put implements state.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	enc, err := encodeKey(key)
	if err != nil {
		return 0, err
	}
	rev, err := s.kv.Put(ctx, enc, value)
	return rev, s.wrap("put", key, err)
}

// Create implements state.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	enc, err := encodeKey(key)
	if err != nil {
		return 0, err
	}
	rev, err := s.kv.Create(ctx, enc, value)
	return rev, s.wrap("create", key, err)
}

// Update implements state.Store.
func (s *Store) Update(ctx context.Context, key string, value []byte, expected uint64) (uint64, error) {
	enc, err := encodeKey(key)
	if err != nil {
		return 0, err
	}
	if expected == 0 {
		return 0, fmt.Errorf("natskv: update %q: expected revision must be > 0 (use Create for a new key)", key)
	}
	rev, err := s.kv.Update(ctx, enc, value, expected)
	return rev, s.wrap("update", key, err)
}

// Delete implements state.Store.
func (s *Store) Delete(ctx context.Context, key string, expected uint64) error {
	enc, err := encodeKey(key)
	if err != nil {
		return err
	}
	var opts []jetstream.KVDeleteOpt
	if expected > 0 {
		opts = append(opts, jetstream.LastRevision(expected))
	}
	return s.wrap("delete", key, s.kv.Delete(ctx, enc, opts...))
}

// List implements state.Store. Keys in the bucket that this package did not
// write (not in its encoding) are left out.
func (s *Store) List(ctx context.Context, prefix string) ([]state.Entry, error) {
	w, err := s.kv.Watch(ctx, listFilter(prefix), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, s.wrap("list", prefix, err)
	}
	defer func() { _ = w.Stop() }()
	latest := map[string]state.Entry{}
	for {
		select {
		case <-ctx.Done():
			return nil, s.wrap("list", prefix, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, s.wrap("list", prefix, errors.New("watcher closed early"))
			}
			if e == nil { // every current entry has been delivered
				out := make([]state.Entry, 0, len(latest))
				for _, en := range latest {
					out = append(out, en)
				}
				slices.SortFunc(out, func(a, b state.Entry) int { return cmp.Compare(a.Key, b.Key) })
				return out, nil
			}
			key, err := decodeKey(e.Key())
			if err != nil || !strings.HasPrefix(key, prefix) {
				continue
			}
			if old, seen := latest[key]; !seen || e.Revision() > old.Revision {
				latest[key] = entry(key, e)
			}
		}
	}
}

func entry(key string, e jetstream.KeyValueEntry) state.Entry {
	v := e.Value()
	if v == nil {
		v = []byte{}
	}
	return state.Entry{Key: key, Value: v, Revision: e.Revision(), Updated: e.Created().UTC()}
}

// wrap maps JetStream errors to the state errors and names the operation,
// bucket and key. The message is formatted only when it is read: a key not
// found is the common answer of the version guard's reads during a
// backfill, and only errors.Is looks at it.
func (s *Store) wrap(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		err = state.ErrNotFound
	case isConflict(err):
		err = &conflictError{err: err}
	}
	return &opError{op: op, key: key, bucket: s.kv.Bucket(), err: err}
}

// opError is a failed operation: "natskv: <op> "<key>" in <bucket>: <err>".
type opError struct {
	op, key, bucket string
	err             error
}

func (e *opError) Error() string {
	return fmt.Sprintf("natskv: %s %q in %s: %v", e.op, e.key, e.bucket, e.err)
}

func (e *opError) Unwrap() error { return e.err }

// conflictError is a JetStream error that means state.ErrConflict.
type conflictError struct{ err error }

func (e *conflictError) Error() string { return state.ErrConflict.Error() + ": " + e.err.Error() }

func (e *conflictError) Unwrap() []error { return []error{state.ErrConflict, e.err} }

// isConflict reports a failed expectation on the key's last revision. The
// server reports code 10071 (10164 on replicated streams).
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

var _ state.Store = (*Store)(nil)
