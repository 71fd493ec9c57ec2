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
func (e *Engine) buildSource(sc *config.Source, pub *countingPublisher, log *slog.Logger) (source.Source, error) {
	switch sc.Type {
	case config.SourcePostgresPoll:
		return pgpoll.New(pgpoll.Options{Name: sc.Name, Config: *sc.PostgresPoll, Queue: pub, State: e.state, Logger: log})
	case config.SourceHTTP:
		s, err := httpsrc.New(httpsrc.Options{Name: sc.Name, Config: *sc.HTTP, Queue: pub, Logger: log})
		if err != nil {
			return nil, err
		}
		return httpSource{s}, nil
	case config.SourceFiles:
		s, err := files.New(files.Options{Name: sc.Name, Config: *sc.Files, Queue: pub, DLQ: e.deadLetters(), State: e.state, Logger: log})
		if err != nil {
			return nil, err
		}
		return filesSource{s}, nil
	case config.SourceS3:
		s, err := s3src.New(s3src.Options{Name: sc.Name, Config: *sc.S3, Queue: pub, DLQ: e.deadLetters(), State: e.state, Logger: log})
		if err != nil {
			return nil, err
		}
		return s3Source{s}, nil
	}
	return nil, fmt.Errorf("type %s cannot run in this build yet", sc.Type)
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
