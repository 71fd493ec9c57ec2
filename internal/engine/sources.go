package engine

import (
	"fmt"
	"log/slog"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/source"
	"github.com/sfbridge/sfbridge/internal/source/files"
	"github.com/sfbridge/sfbridge/internal/source/httpsrc"
	"github.com/sfbridge/sfbridge/internal/source/pgpoll"
	"github.com/sfbridge/sfbridge/internal/source/s3src"
)

// rejections is a source that counts what it refused: events dead-lettered
// or refused to the client, inputs quarantined.
type rejections interface {
	rejected() (events, inputs uint64)
}

// buildSource constructs the source sc describes, publishing through pub.
// postgres_poll and files sources get flow control (delivery.max_backlog)
// over the consumers of the syncs that read them; bp is nil without it.
// (An http source answers 503 when the broker cannot take its events, and
// an s3 source reads one object at a time.)
func (e *Engine) buildSource(sc *config.Source, pub *countingPublisher, log *slog.Logger) (src source.Source, bp *backpressure, err error) {
	switch sc.Type {
	case config.SourcePostgresPoll:
		bp = newBackpressure(e.cfg.Delivery.MaxBacklog, e.consumersOf(sc.Name), log)
		s, err := pgpoll.New(pgpoll.Options{Name: sc.Name, Config: *sc.PostgresPoll, Queue: pub, State: e.state, Logger: log, Backpressure: bp.waitFunc()})
		if err != nil {
			return nil, nil, err
		}
		return s, bp, nil
	case config.SourceFiles:
		bp = newBackpressure(e.cfg.Delivery.MaxBacklog, e.consumersOf(sc.Name), log)
		s, err := files.New(files.Options{Name: sc.Name, Config: *sc.Files, Queue: pub, DLQ: e.deadLetters(), State: e.state, Logger: log,
			Backpressure: bp.waitFunc()})
		if err != nil {
			return nil, nil, err
		}
		return filesSource{s}, bp, nil
	case config.SourceHTTP:
		s, err := httpsrc.New(httpsrc.Options{Name: sc.Name, Config: *sc.HTTP, Queue: pub, Logger: log,
			MaxInFlight: sc.HTTP.MaxInFlight, PublishTimeout: sc.HTTP.PublishTimeout})
		if err != nil {
			return nil, nil, err
		}
		return httpSource{s}, nil, nil
	case config.SourceS3:
		s, err := s3src.New(s3src.Options{Name: sc.Name, Config: *sc.S3, Queue: pub, DLQ: e.deadLetters(), State: e.state, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		return s3Source{s}, nil, nil
	}
	return nil, nil, fmt.Errorf("type %s cannot run in this build yet", sc.Type)
}

// deadLetters is the DLQ the event sources put bad events in.
func (e *Engine) deadLetters() *dlq.Store { return dlq.NewStore(e.queue) }

type httpSource struct{ *httpsrc.Source }

func (s httpSource) rejected() (uint64, uint64) {
	st := s.Stats()
	return uint64(st.Rejected), 0
}

type filesSource struct{ *files.Source }

func (s filesSource) rejected() (uint64, uint64) {
	st := s.Stats()
	return uint64(st.DeadLettered), uint64(st.Quarantined)
}

type s3Source struct{ *s3src.Source }

func (s s3Source) rejected() (uint64, uint64) {
	st := s.Stats()
	return uint64(st.DeadLettered), uint64(st.Quarantined)
}

// SourceAddr returns the address an http source listens on ("" when name
// is not a started http source), for tests that listen on port 0.
func (e *Engine) SourceAddr(name string) string {
	for _, s := range e.sources {
		if h, ok := s.src.(httpSource); ok && s.cfg.Name == name {
			return h.Addr()
		}
	}
	return ""
}
