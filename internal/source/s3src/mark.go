package s3src

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sfbridge/sfbridge/internal/config"
)

// TagKey is the object tag mark: tag sets it to the time the object was
// processed (RFC 3339, UTC).
const TagKey = "sfbridge-processed"

// maxTags is the most tags S3 keeps on an object.
const maxTags = 10

// finish marks an object whose events are all confirmed (ck.Complete).
// Only now does the object count as processed (invariant 1).
func (s *Source) finish(ctx context.Context, ck *checkpoint) (outcome, error) {
	key := ck.Key
	switch s.cfg.Mark {
	case config.MarkState:
		if !ck.Marked {
			ck.Marked = true
			if err := s.saveCheckpoint(ctx, ck); err != nil {
				return 0, err
			}
		}
	case config.MarkMove:
		dst := s.cfg.ProcessedPrefix + key
		if err := s.move(ctx, ck, dst); isNoSuchKey(err) {
			return gone, s.dropCheckpoint(ctx, key, ck.rev)
		} else if err != nil {
			return 0, fmt.Errorf("mark %s processed: move it to %s: %w", s.uri(key), dst, err)
		}
		if err := s.dropCheckpoint(ctx, key, ck.rev); err != nil {
			return 0, err
		}
	case config.MarkTag:
		if err := s.tag(ctx, key); isNoSuchKey(err) {
			return gone, s.dropCheckpoint(ctx, key, ck.rev)
		} else if err != nil {
			return 0, fmt.Errorf("mark %s processed: tag it %s: %w", s.uri(key), TagKey, err)
		}
		ck.Marked = true
		if err := s.saveCheckpoint(ctx, ck); err != nil {
			return 0, err
		}
	}
	s.objects.Add(1)
	s.log.Debug("s3: object processed", "key", key, "events", ck.Events, "items", ck.Items)
	return processed, nil
}

// move copies the object to dst, then deletes it. The copy is made only if
// the object is still the content that was read (its ETag); an object
// overwritten since fails the copy and is read again.
func (s *Source) move(ctx context.Context, ck *checkpoint, dst string) error {
	in := &s3.CopyObjectInput{
		Bucket:     aws.String(s.cfg.Bucket),
		Key:        aws.String(dst),
		CopySource: aws.String(copySource(s.cfg.Bucket, ck.Key)),
	}
	if !strings.HasPrefix(ck.ETag, syntheticETag) {
		in.CopySourceIfMatch = aws.String(`"` + ck.ETag + `"`)
	}
	if _, err := s.s3.CopyObject(ctx, in); err != nil {
		return err
	}
	_, err := s.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(ck.Key)})
	return err
}

// quarantine moves an unreadable object under quarantine_prefix (keeping
// its key) with an object key+".error" that says why, then forgets its
// checkpoint. Nothing of it was published. where is the place in the
// object that could not be read (event.Loc's text, or "byte 0").
func (s *Source) quarantine(ctx context.Context, ck *checkpoint, where, reason string) (outcome, error) {
	key := ck.Key
	dst := s.cfg.QuarantinePrefix + key
	_, err := s.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(s.cfg.Bucket),
		Key:         aws.String(dst + ".error"),
		Body:        strings.NewReader(s.errorText(ck, dst, where, reason)),
		ContentType: aws.String("text/plain; charset=utf-8"),
	})
	if err != nil {
		return 0, fmt.Errorf("quarantine %s: write %s.error: %w", s.uri(key), dst, err)
	}
	if err := s.move(ctx, ck, dst); isNoSuchKey(err) {
		return gone, s.dropCheckpoint(ctx, key, ck.rev)
	} else if err != nil {
		return 0, fmt.Errorf("quarantine %s: move it to %s: %w", s.uri(key), dst, err)
	}
	if err := s.dropCheckpoint(ctx, key, ck.rev); err != nil {
		return 0, err
	}
	s.quarantined.Add(1)
	s.log.Warn("s3: object quarantined: it cannot be read", "key", key, "to", dst, "location", where, "reason", reason)
	return quarantined, nil
}

// errorText is the content of a quarantined object's .error object, one
// "name: value" per line (as the files source writes it).
func (s *Source) errorText(ck *checkpoint, dst, where, reason string) string {
	oneLine := strings.NewReplacer("\r", " ", "\n", " ")
	var b strings.Builder
	fmt.Fprintf(&b, "source: %s\n", s.name)
	fmt.Fprintf(&b, "object: %s\n", oneLine.Replace(s.uri(ck.Key)))
	fmt.Fprintf(&b, "etag: %s\n", ck.ETag)
	fmt.Fprintf(&b, "quarantined_as: %s\n", oneLine.Replace(s.uri(dst)))
	fmt.Fprintf(&b, "location: %s\n", where)
	fmt.Fprintf(&b, "reason: %s\n", oneLine.Replace(reason))
	fmt.Fprintf(&b, "time: %s\n", s.now().UTC().Format(time.RFC3339))
	return b.String()
}

// tagged reports whether the object carries TagKey.
func (s *Source) tagged(ctx context.Context, key string) (bool, error) {
	out, err := s.s3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return false, err
	}
	for _, t := range out.TagSet {
		if aws.ToString(t.Key) == TagKey {
			return true, nil
		}
	}
	return false, nil
}

// tag adds TagKey to the object's tags, keeping the others.
func (s *Source) tag(ctx context.Context, key string) error {
	out, err := s.s3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	tags := make([]types.Tag, 0, len(out.TagSet)+1)
	for _, t := range out.TagSet {
		if aws.ToString(t.Key) != TagKey {
			tags = append(tags, t)
		}
	}
	if len(tags) >= maxTags {
		return fmt.Errorf("it has %d tags already, the most S3 allows: no room for %s (use mark: state or move)", len(tags), TagKey)
	}
	tags = append(tags, types.Tag{Key: aws.String(TagKey), Value: aws.String(s.now().UTC().Format(time.RFC3339))})
	_, err = s.s3.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket:  aws.String(s.cfg.Bucket),
		Key:     aws.String(key),
		Tagging: &types.Tagging{TagSet: tags},
	})
	return err
}
