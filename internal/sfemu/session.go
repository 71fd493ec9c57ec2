package sfemu

import (
	"strings"
	"time"
)

// Session is an access token the org accepts.
type Session struct {
	Token   string
	UserID  string
	Issued  time.Time
	Expires time.Time // zero: never expires
}

// tokenChars are the characters of a token's opaque part; sfdx-core accepts
// tokens matching (00D\w{12,15})![.\w]* (fact sheet §0.3).
const tokenChars = base62 + "._"

// NewSession mints an access token "<15-char org id>!<opaque>" for userID
// (the default user when empty) that expires after ttl; ttl 0 means the
// org's default (Options.SessionTTL), a negative ttl never expires.
func (o *Org) NewSession(userID string, ttl time.Duration) *Session {
	if userID == "" {
		userID = o.userID
	}
	if ttl == 0 {
		ttl = o.ttl
	}
	var b strings.Builder
	b.WriteString(o.id[:15])
	b.WriteString("!AQ")
	o.rngMu.Lock()
	for i := 0; i < 94; i++ {
		b.WriteByte(tokenChars[o.rng.IntN(len(tokenChars))])
	}
	o.rngMu.Unlock()
	now := o.now()
	s := &Session{Token: b.String(), UserID: userID, Issued: now}
	if ttl > 0 {
		s.Expires = now.Add(ttl)
	}
	o.sessMu.Lock()
	o.sessions[s.Token] = s
	o.sessMu.Unlock()
	cp := *s
	return &cp
}

// Session returns the live session of token; expired and unknown tokens
// are not found (the REST answer is 401 INVALID_SESSION_ID).
func (o *Org) Session(token string) (*Session, bool) {
	o.sessMu.Lock()
	defer o.sessMu.Unlock()
	s, ok := o.sessions[token]
	if !ok {
		return nil, false
	}
	if !s.Expires.IsZero() && !o.now().Before(s.Expires) {
		delete(o.sessions, token)
		return nil, false
	}
	cp := *s
	return &cp, true
}

// RevokeSession forgets token; it reports whether the token was known.
func (o *Org) RevokeSession(token string) bool {
	o.sessMu.Lock()
	defer o.sessMu.Unlock()
	_, ok := o.sessions[token]
	delete(o.sessions, token)
	return ok
}

// ExpireSessions invalidates every session at once (fault "expire all
// sessions now"); it returns how many there were.
func (o *Org) ExpireSessions() int {
	o.sessMu.Lock()
	defer o.sessMu.Unlock()
	n := len(o.sessions)
	o.sessions = map[string]*Session{}
	return n
}
