package alert

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sfbridge/sfbridge/internal/config"
)

// Status is whether a message raises or clears an alert.
type Status string

// Statuses.
const (
	Firing   Status = "firing"
	Resolved Status = "resolved"
)

// Message is the JSON body POSTed to a webhook. Slack incoming webhooks
// show Text and ignore the other fields.
type Message struct {
	Text string `json:"text"`
	// Source is always "sfbridge".
	Source string `json:"source"`
	// Alert is the channel's name from the config.
	Alert  string            `json:"alert"`
	Event  config.AlertEvent `json:"event"`
	Status Status            `json:"status"`
	// Sync is the sync concerned ("" for an authentication failure, which
	// concerns the org).
	Sync string `json:"sync,omitempty"`
	// Since is when the condition began; At is when this message was made.
	Since time.Time `json:"since"`
	At    time.Time `json:"at"`
	// Count is the dead letters this message reports (dlq); Total those of
	// the whole episode.
	Count int `json:"count,omitempty"`
	Total int `json:"total,omitempty"`
	// Codes counts the dead letters of this message by error code.
	Codes map[string]int `json:"codes,omitempty"`
	// Cause is the error or reason behind the alert.
	Cause string `json:"cause,omitempty"`
}

// maxCause bounds the cause quoted in a message.
const maxCause = 500

func cut(s string) string {
	r := []rune(s)
	if len(r) <= maxCause {
		return s
	}
	return string(r[:maxCause]) + "…"
}

// formatCodes renders codes as "A ×3, B ×1", most frequent first.
func formatCodes(codes map[string]int) string {
	keys := slices.Collect(maps.Keys(codes))
	slices.SortFunc(keys, func(a, b string) int {
		if codes[a] != codes[b] {
			return codes[b] - codes[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := k
		if name == "" {
			name = "no code"
		}
		parts[i] = fmt.Sprintf("%s ×%d", name, codes[k])
	}
	return strings.Join(parts, ", ")
}

func records(n int) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}

// round keeps durations readable: whole seconds (milliseconds under 1s).
func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

func dlqText(m *Message, window time.Duration, update bool) string {
	more := ""
	if update {
		more = " more"
	}
	s := fmt.Sprintf("sfbridge: %s%s of sync %s went to the DLQ", records(m.Count), more, m.Sync)
	if window > 0 {
		s += fmt.Sprintf(" in the last %s", round(window))
	}
	s += fmt.Sprintf(" (%s)", formatCodes(m.Codes))
	if update {
		s += fmt.Sprintf("; %d since %s", m.Total, m.Since.UTC().Format(time.RFC3339))
	}
	return s + fmt.Sprintf(". Inspect them with: sfbridge dlq list --sync %s", m.Sync)
}

func dlqResolvedText(m *Message, quiet time.Duration) string {
	return fmt.Sprintf("sfbridge: sync %s: no new dead letters for %s (%s since %s; they wait in the DLQ: sfbridge dlq list --sync %s).",
		m.Sync, round(quiet), records(m.Total), m.Since.UTC().Format(time.RFC3339), m.Sync)
}

func circuitText(m *Message) string {
	return fmt.Sprintf("sfbridge: sync %s has not reached Salesforce for %s; delivery is paused and no attempts are spent. Last error: %s",
		m.Sync, round(m.At.Sub(m.Since)), m.Cause)
}

func circuitResolvedText(m *Message) string {
	return fmt.Sprintf("sfbridge: sync %s delivers to Salesforce again, after %s.", m.Sync, round(m.At.Sub(m.Since)))
}

func authText(m *Message) string {
	return fmt.Sprintf("sfbridge: Salesforce rejected sfbridge's credentials; delivery is paused until they work. Error: %s", m.Cause)
}

func authResolvedText(m *Message) string {
	return fmt.Sprintf("sfbridge: Salesforce accepts sfbridge's credentials again, after %s.", round(m.At.Sub(m.Since)))
}

func stoppedText(m *Message) string {
	return fmt.Sprintf("sfbridge: sync %s stopped: %s", m.Sync, m.Cause)
}

func startedText(m *Message) string {
	return fmt.Sprintf("sfbridge: sync %s runs again.", m.Sync)
}
