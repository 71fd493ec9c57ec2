package natsjs

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/queue"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The stream and consumer configurations are what the broker persists; a
// change to them changes every deployment's broker state, so it must show in
// review as a change of these golden files.
func TestBrokerConfigsGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "default", cfg: Config{}},
		{name: "namespaced", cfg: Config{Namespace: "staging", Duplicates: 10 * time.Minute, Replicas: 3,
			MaxAge: 72 * time.Hour, MaxBytes: 10 << 30, AckWait: 2 * time.Minute, MaxInFlight: 400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg.withDefaults()
			require.NoError(t, cfg.Validate())
			got := map[string]any{
				"in_stream":  cfg.inStreamConfig(),
				"dlq_stream": cfg.dlqStreamConfig(),
				"consumer":   cfg.consumerConfig(queue.ConsumerConfig{Name: "counselors", Subject: "in.platform_db.>"}),
				"consumer_own_ack_wait": cfg.consumerConfig(queue.ConsumerConfig{
					Name: "rescues", Subject: "in.platform_events", AckWait: 5 * time.Minute, MaxInFlight: 200}),
			}
			b, err := json.MarshalIndent(got, "", "  ")
			require.NoError(t, err)
			b = append(b, '\n')
			path := filepath.Join("testdata", "broker_config_"+tt.name+".golden.json")
			if *update {
				require.NoError(t, os.WriteFile(path, b, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -run TestBrokerConfigsGolden -update to create it")
			require.Equal(t, string(want), string(b))
		})
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ns, stream, subject string
	}{
		{"", "SFBRIDGE_IN", "in.a.b"},
		{"T1234abcd", "T1234abcd_SFBRIDGE_IN", "T1234abcd.in.a.b"},
	} {
		n := names{tt.ns}
		require.Equal(t, tt.stream, n.stream(InStream))
		require.Equal(t, tt.subject, n.subject("in.a.b"))
		require.Equal(t, "in.a.b", n.logical(tt.subject))
	}
}
