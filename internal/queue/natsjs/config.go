package natsjs

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sfbridge/sfbridge/internal/queue"
)

// Stream names (before the namespace).
const (
	InStream  = "SFBRIDGE_IN"
	DLQStream = "SFBRIDGE_DLQ"
)

// Defaults; see doc.go for the reasoning behind each.
const (
	DefaultDuplicates     = 2 * time.Minute
	DefaultAckWait        = 60 * time.Second
	DefaultMaxInFlight    = 1000
	DefaultPublishWindow  = 4096
	DefaultPublishTimeout = 30 * time.Second
)

// Config tunes the adapter. The zero value is the production layout with
// the defaults above.
type Config struct {
	// Namespace, when set, prefixes stream names ("<ns>_SFBRIDGE_IN") and
	// subjects ("<ns>.in.>") so several deployments, or tests, share one
	// server. Letters, digits, '_' and '-', at most 32, starting with a letter.
	Namespace string
	// Duplicates is the deduplication window of both streams (zero:
	// DefaultDuplicates). The server keeps the ID of every message
	// published within it in memory, about 125 bytes each; see doc.go.
	Duplicates time.Duration
	// AckWait is the ack wait of consumers that do not set one.
	AckWait time.Duration
	// MaxInFlight is the in-flight bound of consumers that do not set one.
	MaxInFlight int
	// ConfirmAcks makes Ack, Nack, InProgress and Term wait for the broker to
	// confirm it has processed them. Off, they are sent and not awaited.
	ConfirmAcks bool
	// Replicas is the number of copies of each stream (1 unless the
	// external server is a cluster). Zero means 1.
	Replicas int
	// MaxAge and MaxBytes are optional safety limits of the input stream
	// (zero: none). When MaxBytes is reached, publishes fail rather than
	// evict older messages; MaxAge evicts unconsumed messages older than it.
	MaxAge   time.Duration
	MaxBytes int64
	// PublishWindow bounds the unconfirmed messages one Publish keeps in flight.
	PublishWindow int
	// PublishTimeout fails a message whose store confirmation takes longer.
	PublishTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Duplicates == 0 {
		c.Duplicates = DefaultDuplicates
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.PublishWindow == 0 {
		c.PublishWindow = DefaultPublishWindow
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	return c
}

// Validate reports every problem of c (after defaults), without I/O.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("natsjs: %s: "+format, append([]any{field}, args...)...))
	}
	if c.Namespace != "" {
		if err := checkNamespace(c.Namespace); err != nil {
			bad("Namespace", "%v", err)
		}
	}
	if c.Duplicates < 0 {
		bad("Duplicates", "must not be negative, got %s", c.Duplicates)
	}
	if c.MaxAge < 0 {
		bad("MaxAge", "must not be negative, got %s", c.MaxAge)
	}
	if c.MaxAge > 0 && c.Duplicates > c.MaxAge {
		bad("Duplicates", "window %s is longer than MaxAge %s", c.Duplicates, c.MaxAge)
	}
	if c.MaxBytes < 0 {
		bad("MaxBytes", "must not be negative, got %d", c.MaxBytes)
	}
	if c.AckWait < time.Millisecond {
		bad("AckWait", "must be at least 1ms, got %s", c.AckWait)
	}
	if c.MaxInFlight < 0 {
		bad("MaxInFlight", "must not be negative, got %d", c.MaxInFlight)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		bad("Replicas", "must be 1 to 5, got %d", c.Replicas)
	}
	if c.PublishWindow < 1 {
		bad("PublishWindow", "must be at least 1, got %d", c.PublishWindow)
	}
	if c.PublishTimeout < 0 {
		bad("PublishTimeout", "must not be negative, got %s", c.PublishTimeout)
	}
	return errors.Join(errs...)
}

func checkNamespace(ns string) error {
	if len(ns) > 32 {
		return fmt.Errorf("%q is longer than 32 characters", ns)
	}
	if c := ns[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return fmt.Errorf("%q must start with a letter", ns)
	}
	if err := queue.CheckName(ns); err != nil {
		return err
	}
	return nil
}

// names maps the logical layout into a namespace.
type names struct{ ns string }

func (n names) stream(base string) string {
	if n.ns == "" {
		return base
	}
	return n.ns + "_" + base
}

// subject maps a logical subject (or filter) to the broker's.
func (n names) subject(logical string) string {
	if n.ns == "" {
		return logical
	}
	return n.ns + "." + logical
}

// logical maps a broker subject back.
func (n names) logical(subject string) string {
	if n.ns == "" {
		return subject
	}
	return subject[len(n.ns)+1:]
}

// inStreamConfig is the input stream. Interest retention: a message stays
// until every consumer whose filter matches it has acked or terminated it,
// so the store holds the backlog and nothing more, and nothing un-acked is
// evicted unless the operator sets MaxAge.
func (c Config) inStreamConfig() jetstream.StreamConfig {
	n := names{c.Namespace}
	maxBytes := c.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Name:              n.stream(InStream),
		Description:       "sfbridge: records from sources, one durable consumer per sync",
		Subjects:          []string{n.subject(queue.InRoot + ".>")},
		Retention:         jetstream.InterestPolicy,
		MaxConsumers:      -1,
		MaxMsgs:           -1,
		MaxBytes:          maxBytes,
		Discard:           jetstream.DiscardNew,
		MaxAge:            c.MaxAge,
		MaxMsgsPerSubject: -1,
		Storage:           jetstream.FileStorage,
		Replicas:          c.Replicas,
		Duplicates:        c.Duplicates,
	}
}

// dlqStreamConfig is the DLQ stream: limits retention without limits, so an
// entry stays until it is deleted (replayed or dropped).
func (c Config) dlqStreamConfig() jetstream.StreamConfig {
	n := names{c.Namespace}
	return jetstream.StreamConfig{
		Name:              n.stream(DLQStream),
		Description:       "sfbridge: dead letters, one subject per sync",
		Subjects:          []string{n.subject(queue.DLQRoot + ".>")},
		Retention:         jetstream.LimitsPolicy,
		MaxConsumers:      -1,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		Discard:           jetstream.DiscardNew,
		MaxMsgsPerSubject: -1,
		Storage:           jetstream.FileStorage,
		Replicas:          c.Replicas,
		Duplicates:        c.Duplicates,
	}
}

// consumerConfig is a sync's durable pull consumer. No BackOff list (it
// would override AckWait); no MaxDeliver (at MaxDeliver JetStream stops
// delivering a message without telling anyone: the caller dead-letters).
func (c Config) consumerConfig(cc queue.ConsumerConfig) jetstream.ConsumerConfig {
	ackWait := cc.AckWait
	if ackWait == 0 {
		ackWait = c.AckWait
	}
	inFlight := cc.MaxInFlight
	if inFlight == 0 {
		inFlight = c.MaxInFlight
	}
	return jetstream.ConsumerConfig{
		Name:          cc.Name,
		Durable:       cc.Name,
		Description:   "sfbridge consumer " + cc.Name,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		FilterSubject: names{c.Namespace}.subject(cc.Subject),
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
		MaxAckPending: inFlight,
	}
}
