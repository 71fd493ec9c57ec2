package s3src

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/sfbridge/sfbridge/internal/state"
)

// skipPastSuffix follows a prefix to make a StartAfter beyond every key
// under it (U+10FFFF sorts after every other character in UTF-8 order).
const skipPastSuffix = "\U0010FFFF"

// run is one listing run. It first retries the objects that failed
// before, then lists the prefix — after the saved start-after key, or from
// the beginning when full — and processes every object not marked
// processed, in key order. The start-after key advances past an object
// only once it and every object listed before it are done, so a failed
// object is listed again. A full run also finds the objects start-after
// cannot see (a key lower than one processed, an object overwritten) and
// forgets the checkpoints of objects no longer in the bucket.
//
// An object that fails is logged and retried by the next run; the others
// go on. A failure of the queue, the DLQ, the state store, or of S3 as a
// whole ends the run.
func (s *Source) run(ctx context.Context, full bool) error {
	after, err := s.loadListing(ctx)
	if err != nil {
		return err
	}
	var known map[string]checkpoint // by state key: what a full run checks against
	if full {
		if known, err = s.knownCheckpoints(ctx); err != nil {
			return err
		}
	}
	var failed []error
	retried := map[string]bool{} // key → done, for the keys retried first
	for _, key := range s.takeRetries() {
		done, err := s.handle(ctx, key, "")
		if err != nil {
			if abortRun(err) {
				return err
			}
			failed = append(failed, err)
		}
		retried[key] = done
	}

	seen := map[string]bool{}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(s.cfg.Prefix)}
	if !full && after != "" {
		in.StartAfter = aws.String(after)
	}
	saved := after
	contiguous := true // every object listed so far is done
	for {
		page, err := s.s3.ListObjectsV2(ctx, in)
		if err != nil {
			return errors.Join(fmt.Errorf("list s3://%s/%s: %w", s.cfg.Bucket, s.cfg.Prefix, err), s.advance(ctx, &saved, after))
		}
		jump := ""
		for _, obj := range page.Contents {
			key := aws.ToString(obj.Key)
			if p := s.skipped(key); p != "" {
				if j := p + skipPastSuffix; j > key {
					jump = j // past the whole skipped prefix at once
					break
				}
				continue
			}
			if !strings.HasSuffix(key, "/") { // a "folder" placeholder holds no events
				etag := trimETag(aws.ToString(obj.ETag))
				var ck checkpoint
				var ok bool
				if full {
					skey := ObjectKey(s.name, key)
					seen[skey] = true
					ck, ok = known[skey]
				}
				if done, again := retried[key]; again {
					contiguous = contiguous && done // tried once this run is enough
				} else if !ok || !ck.Marked || ck.ETag != etag {
					done, err := s.handle(ctx, key, etag)
					if err != nil && abortRun(err) {
						return errors.Join(err, s.advance(ctx, &saved, after))
					}
					if err != nil {
						failed = append(failed, err)
					}
					contiguous = contiguous && done
				}
			}
			if contiguous && key > after {
				after = key
			}
		}
		if err := s.advance(ctx, &saved, after); err != nil {
			return err
		}
		if s.isStopping() {
			return errStopping
		}
		switch {
		case jump != "":
			in.StartAfter, in.ContinuationToken = aws.String(jump), nil
		case aws.ToBool(page.IsTruncated) && aws.ToString(page.NextContinuationToken) != "":
			in.ContinuationToken = page.NextContinuationToken
		default:
			return s.endRun(ctx, full, known, seen, failed)
		}
	}
}

// endRun counts a listing run that went through the whole listing, and
// after a full one without failures forgets the checkpoints of objects
// that are gone.
func (s *Source) endRun(ctx context.Context, full bool, known map[string]checkpoint, seen map[string]bool, failed []error) error {
	s.listings.Add(1)
	if full {
		s.fullListings.Add(1)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d objects failed and are retried by the next run; the first: %w", len(failed), failed[0])
	}
	if full {
		s.prune(ctx, known, seen)
	}
	return nil
}

// advance saves the start-after key when it moved.
func (s *Source) advance(ctx context.Context, saved *string, after string) error {
	if after == *saved {
		return nil
	}
	if err := s.saveListing(ctx, after); err != nil {
		return err
	}
	*saved = after
	return nil
}

// handle processes one object and says whether it is done (processed,
// already processed, gone or quarantined). A failure is logged and the key
// remembered for the next run; an object another process is reading is
// not done, and not a failure.
func (s *Source) handle(ctx context.Context, key, etag string) (bool, error) {
	out, err := s.process(ctx, key, etag)
	switch {
	case err == nil:
		if out != already {
			s.log.Debug("s3: object handled", "key", key, "outcome", out.String())
		}
		return true, nil
	case errors.Is(err, errBusy):
		s.log.Info("s3: object left to another process", "key", key, "err", err)
		return false, nil
	case errors.Is(err, errStopping), s.isStopping() && errors.Is(err, context.Canceled):
		return false, errStopping
	}
	s.addRetry(key)
	s.failures.Add(1)
	s.log.Warn("s3: cannot process an object; retrying later", "key", key, "err", err)
	return false, &objectError{err: err}
}

// objectError is the failure of one object, logged and counted where it
// happened.
type objectError struct{ err error }

func (e *objectError) Error() string { return e.err.Error() }
func (e *objectError) Unwrap() error { return e.err }

// abortRun reports whether err ends the whole run rather than one object:
// the queue, the DLQ or the state store failed, the source is stopping, or
// S3 did not answer at all (every other object would fail the same way).
func abortRun(err error) bool {
	var se *sinkError
	if errors.As(err, &se) || errors.Is(err, errStopping) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ae smithy.APIError
	return status(err) == 0 && !errors.As(err, &ae)
}

// skipped returns the prefix (processed_prefix, quarantine_prefix) key lies
// under, "" when it lies under neither.
func (s *Source) skipped(key string) string {
	for _, p := range s.skip {
		if strings.HasPrefix(key, p) {
			return p
		}
	}
	return ""
}

// wanted reports whether key is one the source reads.
func (s *Source) wanted(key string) bool {
	return strings.HasPrefix(key, s.cfg.Prefix) && s.skipped(key) == "" && !strings.HasSuffix(key, "/")
}

// knownCheckpoints reads every object checkpoint of the source, by state
// key.
func (s *Source) knownCheckpoints(ctx context.Context) (map[string]checkpoint, error) {
	entries, err := s.state.List(ctx, objectPrefix(s.name))
	if err != nil {
		return nil, sinkErr(fmt.Errorf("state: list the object checkpoints: %w", err))
	}
	known := make(map[string]checkpoint, len(entries))
	for _, e := range entries {
		c, err := ParseCheckpoint(e.Value)
		if err != nil || ObjectKey(s.name, c.Key) != e.Key {
			c = Checkpoint{} // unreadable: never counts as marked, pruned when its object is gone
		}
		known[e.Key] = checkpoint{Checkpoint: c, rev: e.Revision}
	}
	return known, nil
}

// prune deletes the checkpoints of objects a complete full listing did
// not see (deleted, or expired by a lifecycle rule), so that mark: state
// does not grow the state forever. The delete is compare-and-set on the
// revision read before the listing: a checkpoint written since (an object
// created meanwhile) stays.
func (s *Source) prune(ctx context.Context, known map[string]checkpoint, seen map[string]bool) {
	n := 0
	for skey, ck := range known {
		if seen[skey] {
			continue
		}
		err := s.state.Delete(ctx, skey, ck.rev)
		if err != nil && !errors.Is(err, state.ErrConflict) && !errors.Is(err, state.ErrNotFound) {
			s.log.Warn("s3: cannot forget the checkpoints of deleted objects now; the next full listing does", "err", err)
			return
		}
		n++
	}
	if n > 0 {
		s.log.Debug("s3: forgot the checkpoints of objects no longer in the bucket", "count", n)
	}
}
