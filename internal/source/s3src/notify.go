package s3src

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// notified is one object an S3 event notification names.
type notified struct {
	// Event is the event's name ("ObjectCreated:Put").
	Event string
	// Bucket and Key name the object; Key is decoded.
	Bucket, Key string
	// ETag is the object's ETag when the notification gives it.
	ETag string
}

// s3Notification is an SQS message body from S3: event records, or the
// test event S3 sends when notifications are configured. Type and Message
// are there when it came through SNS (without raw message delivery).
type s3Notification struct {
	Records []json.RawMessage `json:"Records"`
	Event   string            `json:"Event"`
	Type    string            `json:"Type"`
	Message *string           `json:"Message"`
}

// s3Record is one record of an S3 event notification.
type s3Record struct {
	EventName string `json:"eventName"`
	S3        struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key  string `json:"key"`
			ETag string `json:"eTag"`
		} `json:"object"`
	} `json:"s3"`
}

// parseNotification reads an SQS message body: an S3 event notification
// ({"Records":[…]}, keys URL-encoded as S3 sends them), S3's
// "s3:TestEvent", or either inside an SNS notification. test is true for a
// test event. A record that cannot be read is an error naming its index;
// the readable records are returned with it.
func parseNotification(body string) (objs []notified, test bool, err error) {
	var n s3Notification
	for range 2 { // the SNS envelope, then what it holds
		n = s3Notification{}
		if err := json.Unmarshal([]byte(body), &n); err != nil {
			return nil, false, fmt.Errorf("not JSON: %w", err)
		}
		if n.Type != "Notification" || n.Message == nil || n.Records != nil {
			break
		}
		body = *n.Message
	}
	if n.Event == "s3:TestEvent" {
		return nil, true, nil
	}
	if len(n.Records) == 0 {
		return nil, false, errors.New(`neither an S3 event notification ({"Records":[…]}, none here) nor s3:TestEvent`)
	}
	var problems []error
	for i, raw := range n.Records {
		var r s3Record
		if err := json.Unmarshal(raw, &r); err != nil {
			problems = append(problems, fmt.Errorf("record %d: %w", i, err))
			continue
		}
		var missing []string
		if r.EventName == "" {
			missing = append(missing, "eventName")
		}
		if r.S3.Bucket.Name == "" {
			missing = append(missing, "s3.bucket.name")
		}
		if r.S3.Object.Key == "" {
			missing = append(missing, "s3.object.key")
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Errorf("record %d: %s missing", i, strings.Join(missing, ", ")))
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			problems = append(problems, fmt.Errorf("record %d: s3.object.key is not URL-encoded: %w", i, err))
			continue
		}
		objs = append(objs, notified{Event: r.EventName, Bucket: r.S3.Bucket.Name, Key: key, ETag: r.S3.Object.ETag})
	}
	return objs, false, errors.Join(problems...)
}

// notifications reads S3 event notifications from the SQS queue until
// Stop (halt ends the long poll at once) and processes the objects they
// name. A message is deleted only once each of its objects is done; until
// then it comes back after the queue's visibility timeout, and the next
// listing run retries the object anyway.
func (s *Source) notifications(ctx, halt context.Context) {
	defer s.wg.Done()
	queueURL := s.cfg.SQSQueueURL
	log := s.log.With("queue", queueURL)
	failures := 0
	for !s.isStopping() {
		out, err := s.sqs.ReceiveMessage(halt, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(queueURL),
			MaxNumberOfMessages: 10,
			WaitTimeSeconds:     int32(s.sqsWait / time.Second),
		})
		if err != nil {
			if s.isStopping() {
				return
			}
			failures++
			s.failures.Add(1)
			delay := s.backoff.Delay(failures)
			log.Warn("s3: cannot receive notifications from SQS; retrying", "err", err, "attempt", failures, "retry_in", delay.Round(time.Millisecond).String())
			timer := time.NewTimer(delay)
			select {
			case <-s.stopping:
				timer.Stop()
				return
			case <-timer.C:
			}
			continue
		}
		if failures > 0 {
			log.Info("s3: receiving notifications again", "failures", failures)
			failures = 0
		}
		for _, m := range out.Messages {
			if s.isStopping() {
				return // not deleted: it comes back
			}
			s.notification(ctx, m)
		}
	}
}

// notification handles one SQS message.
func (s *Source) notification(ctx context.Context, m types.Message) {
	id := aws.ToString(m.MessageId)
	objs, test, err := parseNotification(aws.ToString(m.Body))
	switch {
	case test:
		s.log.Info("s3: test event received from SQS: notifications are set up", "message_id", id)
		s.deleteMessage(ctx, m)
		return
	case err != nil && len(objs) == 0:
		s.malformed.Add(1)
		s.log.Warn("s3: deleting a notification that cannot be read; the listing finds its objects", "message_id", id, "err", err)
		s.deleteMessage(ctx, m)
		return
	case err != nil:
		s.log.Warn("s3: part of a notification cannot be read; the listing finds those objects", "message_id", id, "err", err)
	}
	for _, o := range objs {
		switch {
		case o.Bucket != s.cfg.Bucket:
			s.log.Warn("s3: notification about another bucket ignored", "message_id", id, "notified_bucket", o.Bucket)
			continue
		case !strings.HasPrefix(o.Event, "ObjectCreated:"), !s.wanted(o.Key):
			continue
		}
		done, err := s.handle(ctx, o.Key, o.ETag)
		if err != nil || !done {
			return // kept: it comes back after its visibility timeout
		}
	}
	s.deleteMessage(ctx, m)
}

func (s *Source) deleteMessage(ctx context.Context, m types.Message) {
	_, err := s.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(s.cfg.SQSQueueURL), ReceiptHandle: m.ReceiptHandle})
	if err != nil {
		s.log.Warn("s3: cannot delete a notification; it comes back, and its objects, already done, are skipped", "message_id", aws.ToString(m.MessageId), "err", err)
		return
	}
	s.notified.Add(1)
}
