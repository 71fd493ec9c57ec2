package record_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/record"
)

// pollPosition stands for a source's typed position struct.
type pollPosition struct {
	Cursor string `json:"cursor"`
	LastID int64  `json:"last_id"`
}

func TestPositionRoundTrip(t *testing.T) {
	t.Parallel()
	in := pollPosition{Cursor: "2024-05-01T10:00:00.123456Z", LastID: 9007199254740993}
	p, err := record.MarshalPosition("pgpoll", 1, in)
	require.NoError(t, err)
	goldenFile(t, "position_pgpoll_v1.json", p)

	kind, v, err := p.Header()
	require.NoError(t, err)
	require.Equal(t, "pgpoll", kind)
	require.Equal(t, 1, v)

	var out pollPosition
	require.NoError(t, record.UnmarshalPosition(p, "pgpoll", 1, &out))
	require.Equal(t, in, out)
	require.Equal(t, string(p), p.String())
}

func TestPositionErrors(t *testing.T) {
	t.Parallel()
	good, err := record.MarshalPosition("pgpoll", 1, pollPosition{Cursor: "c"})
	require.NoError(t, err)
	tests := []struct {
		name    string
		p       record.Position
		kind    string
		version int
		err     string
	}{
		{"other source's position", good, "files", 1, `position: written by a "pgpoll" source, not "files"`},
		{"newer version", good, "pgpoll", 0, "position: pgpoll format version 1 is not supported (this build reads version 0)"},
		{"empty", nil, "pgpoll", 1, "position: empty"},
		{"not framed", record.Position("\x00\x01"), "pgpoll", 1, "position: not a framed position"},
		{"frame without body", record.Position(`{"kind":"pgpoll","v":1}`), "pgpoll", 1, "frame needs kind, v ≥ 1 and pos"},
		{"unknown body field", record.Position(`{"kind":"pgpoll","v":1,"pos":{"cursor":"c","extra":1}}`), "pgpoll", 1, `pgpoll v1 body: json: unknown field "extra"`},
		{"unknown frame field", record.Position(`{"kind":"pgpoll","v":1,"pos":{},"x":2}`), "pgpoll", 1, "not a framed position"},
		{"trailing data", record.Position(`{"kind":"pgpoll","v":1,"pos":{}} {}`), "pgpoll", 1, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out pollPosition
			require.ErrorContains(t, record.UnmarshalPosition(tt.p, tt.kind, tt.version, &out), tt.err)
		})
	}
	_, err = record.MarshalPosition("", 1, nil)
	require.ErrorContains(t, err, "kind is required")
	_, err = record.MarshalPosition("pgpoll", 0, nil)
	require.ErrorContains(t, err, "version 0: must be ≥ 1")
	_, err = record.MarshalPosition("pgpoll", 1, make(chan int))
	require.ErrorContains(t, err, "position: pgpoll")
}

func TestPositionString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "0/16B3748", record.Position("0/16B3748").String())
	require.Equal(t, "00ff10", record.Position{0, 0xff, 0x10}.String())
}
