package queue

import (
	"fmt"
	"strings"
)

// The roots of the two subject spaces.
const (
	// InRoot is the first token of every queued message's subject.
	InRoot = "in"
	// DLQRoot is the first token of every dead letter's subject.
	DLQRoot = "dlq"
)

// CheckSubject reports why subject cannot carry a message under root, or nil.
// A subject is root followed by one or more dot-separated tokens of printable,
// non-space characters, without wildcards.
func CheckSubject(root, subject string) error {
	return checkSubject(root, subject, false)
}

// CheckFilter is CheckSubject for a filter: a token may be "*" (any one
// token) and the last token may be ">" (one or more tokens).
func CheckFilter(root, filter string) error {
	return checkSubject(root, filter, true)
}

func checkSubject(root, subject string, wildcards bool) error {
	if subject == "" {
		return fmt.Errorf("subject is empty (want %s.<...>)", root)
	}
	tokens := strings.Split(subject, ".")
	if tokens[0] != root || len(tokens) < 2 {
		return fmt.Errorf("subject %q is not under %q (want %s.<...>)", subject, root+".", root)
	}
	for i, tok := range tokens[1:] {
		last := i == len(tokens)-2
		switch {
		case tok == "":
			return fmt.Errorf("subject %q has an empty token", subject)
		case tok == "*" || (tok == ">" && last):
			if !wildcards {
				return fmt.Errorf("subject %q has a wildcard %q (only filters may)", subject, tok)
			}
		case tok == ">":
			return fmt.Errorf("subject %q has \">\" before its last token", subject)
		default:
			for _, r := range tok {
				if r <= ' ' || r == 0x7f || r == '*' || r == '>' {
					return fmt.Errorf("subject %q has a forbidden character %q in token %q", subject, r, tok)
				}
			}
		}
	}
	return nil
}

// CheckName reports why name cannot name a consumer, or nil: 1 to 64
// letters, digits, '_' and '-'.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("name is empty")
	}
	if len(name) > 64 {
		return fmt.Errorf("name %q is longer than 64 characters", name)
	}
	for _, r := range name {
		if !isNameRune(r) {
			return fmt.Errorf("name %q has %q (allowed: letters, digits, '_', '-')", name, r)
		}
	}
	return nil
}

func isNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

// CheckHeaders reports why headers cannot go with a message, or nil.
func CheckHeaders(headers map[string]string) error {
	for k, v := range headers {
		if k == "" {
			return fmt.Errorf("header name is empty")
		}
		if len(k) >= 5 && strings.EqualFold(k[:5], "Nats-") {
			return fmt.Errorf("header %q is reserved (Nats-*)", k)
		}
		for _, r := range k {
			if r <= ' ' || r == ':' || r >= 0x7f {
				return fmt.Errorf("header name %q has a forbidden character %q", k, r)
			}
		}
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("header %q has a line break in its value", k)
		}
	}
	return nil
}

// CheckMessage reports why msg cannot be published under root, or nil.
func CheckMessage(root string, msg Message) error {
	if err := CheckSubject(root, msg.Subject); err != nil {
		return err
	}
	if msg.ID == "" {
		return fmt.Errorf("message on %q has no ID (the deduplication key is required)", msg.Subject)
	}
	if strings.ContainsAny(msg.ID, "\r\n") {
		return fmt.Errorf("message on %q has a line break in its ID", msg.Subject)
	}
	return CheckHeaders(msg.Headers)
}
