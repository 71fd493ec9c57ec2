package config

import (
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what every printed form of a non-empty Secret shows.
const Redacted = "[REDACTED]"

// Secret holds a credential: a client secret, a private key, a password, a
// token, a DSN, a webhook URL. Every way of printing or encoding it — String,
// GoString, any fmt verb, JSON, YAML, text, slog — shows "[REDACTED]" (or ""
// when it is empty); only Reveal gives the plain text, and only the code that
// hands it to a driver or an HTTP client should call it.
type Secret struct {
	value string
}

// NewSecret wraps a plain value (for tests and configs built in code).
func NewSecret(value string) Secret { return Secret{value: value} }

// Reveal returns the plain text. Do not log or print it.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

func (s Secret) shown() string {
	if s.value == "" {
		return ""
	}
	return Redacted
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.shown() }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.shown()) }

// Format implements fmt.Formatter so that every verb (%v %+v %s %q %x %d …)
// prints the redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			_, _ = io.WriteString(f, s.GoString())
			return
		}
		_, _ = io.WriteString(f, s.shown())
	case 'q':
		_, _ = io.WriteString(f, fmt.Sprintf("%q", s.shown()))
	default:
		_, _ = io.WriteString(f, s.shown())
	}
}

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", s.shown())), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.shown(), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }

var (
	_ fmt.Stringer   = Secret{}
	_ fmt.GoStringer = Secret{}
	_ fmt.Formatter  = Secret{}
	_ slog.LogValuer = Secret{}
)
