package pgpoll

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule says when runs start.
type Schedule interface {
	// Next returns the start of the run after one that started at prev
	// (or, before the first run, at the source's start time) and ended at
	// now. A time not after now means at once.
	Next(prev, now time.Time) time.Time
	// Immediate reports whether the first run starts as the source starts.
	Immediate() bool
	// String describes the schedule for logs.
	String() string
}

// ParseSchedule returns the schedule of a postgres_poll source: every
// (an interval, the first run at start) or spec (a standard 5-field cron
// line, @hourly-style descriptors, an optional CRON_TZ= prefix). Exactly one
// must be set.
func ParseSchedule(every time.Duration, spec string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case every != 0 && spec != "":
		return nil, errors.New("schedule: every and schedule are exclusive")
	case spec != "":
		if strings.HasPrefix(spec, "@every") {
			return nil, errors.New("schedule: use every instead of @every")
		}
		s, err := cron.ParseStandard(spec)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", spec, err)
		}
		return cronSchedule{s: s, spec: spec}, nil
	case every > 0:
		return everySchedule(every), nil
	default:
		return nil, fmt.Errorf("schedule: every must be positive, got %s", every)
	}
}

// everySchedule starts runs every d, measured from the start of the
// previous run; a run that took longer than d is followed at once.
type everySchedule time.Duration

func (e everySchedule) Next(prev, _ time.Time) time.Time { return prev.Add(time.Duration(e)) }
func (e everySchedule) Immediate() bool                  { return true }
func (e everySchedule) String() string                   { return "every " + time.Duration(e).String() }

// cronSchedule starts runs at the cron activations after the previous run
// ended; activations missed while a run was in progress are skipped.
type cronSchedule struct {
	s    cron.Schedule
	spec string
}

func (c cronSchedule) Next(_, now time.Time) time.Time { return c.s.Next(now) }
func (c cronSchedule) Immediate() bool                 { return false }
func (c cronSchedule) String() string                  { return "schedule " + c.spec }
