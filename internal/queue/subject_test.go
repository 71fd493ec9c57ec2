package queue_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/queue"
)

func TestCheckSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		subject   string
		subjectOK bool
		filterOK  bool
		errHas    string
	}{
		{subject: "in.db.public.users", subjectOK: true, filterOK: true},
		{subject: "in.x", subjectOK: true, filterOK: true},
		{subject: "in.db.>", filterOK: true, errHas: "wildcard"},
		{subject: "in.*.users", filterOK: true, errHas: "wildcard"},
		{subject: "in.>", filterOK: true, errHas: "wildcard"},
		{subject: "", errHas: "empty"},
		{subject: "in", errHas: `not under "in."`},
		{subject: "in.", errHas: "empty token"},
		{subject: "in..x", errHas: "empty token"},
		{subject: "dlq.x", errHas: `not under "in."`},
		{subject: "inx.y", errHas: `not under "in."`},
		{subject: "in.>.x", errHas: `">" before its last token`},
		{subject: "in.a b", errHas: "forbidden character"},
		{subject: "in.a*", errHas: "forbidden character"},
		{subject: "in.a\tb", errHas: "forbidden character"},
		{subject: "in.münchen", subjectOK: true, filterOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.subject, func(t *testing.T) {
			t.Parallel()
			err := queue.CheckSubject(queue.InRoot, tt.subject)
			if tt.subjectOK {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.errHas)
			}
			err = queue.CheckFilter(queue.InRoot, tt.subject)
			if tt.filterOK {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.errHas)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		errHas string
	}{
		{name: "counselors"},
		{name: "Rescues_to-Case2"},
		{name: "", errHas: "empty"},
		{name: "a.b", errHas: `'.'`},
		{name: "a.b", errHas: `'.'`},
		{name: "a>b", errHas: `'>'`},
		{name: "counselors→Contact", errHas: "'→'"},
		{name: string(make([]byte, 65)), errHas: "longer than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := queue.CheckName(tt.name)
			if tt.errHas == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.errHas)
		})
	}
}

func TestCheckMessage(t *testing.T) {
	t.Parallel()
	ok := queue.Message{Subject: "in.a.b", ID: "id-1", Headers: map[string]string{"Content-Type": "application/json"}}
	tests := []struct {
		name   string
		edit   func(m *queue.Message)
		errHas string
	}{
		{name: "valid", edit: func(*queue.Message) {}},
		{name: "no id", edit: func(m *queue.Message) { m.ID = "" }, errHas: "no ID"},
		{name: "id line break", edit: func(m *queue.Message) { m.ID = "a\nb" }, errHas: "line break in its ID"},
		{name: "bad subject", edit: func(m *queue.Message) { m.Subject = "in.>" }, errHas: "wildcard"},
		{name: "reserved header", edit: func(m *queue.Message) { m.Headers = map[string]string{"nats-msg-id": "x"} }, errHas: "reserved"},
		{name: "header name colon", edit: func(m *queue.Message) { m.Headers = map[string]string{"a:b": "x"} }, errHas: "forbidden character"},
		{name: "header empty name", edit: func(m *queue.Message) { m.Headers = map[string]string{"": "x"} }, errHas: "empty"},
		{name: "header value line break", edit: func(m *queue.Message) { m.Headers = map[string]string{"A": "x\r\ny"} }, errHas: "line break in its value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := ok
			tt.edit(&m)
			err := queue.CheckMessage(queue.InRoot, m)
			if tt.errHas == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.errHas)
		})
	}
}
