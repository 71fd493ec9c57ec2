package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	fuzzEnvValue  = "Zq7-env-secret"
	fuzzFileValue = "Zq7-file-secret"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, must
// return either a config or an error, a config it returns must validate, and
// no resolved reference may show in any output.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata", "../../examples"} {
		paths, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil && !strings.HasSuffix(p, ".golden") {
				f.Add(data)
			}
		}
	}
	f.Add([]byte(baseYAML))
	f.Add([]byte("version: 1\nnats: ${env:X}\nsyncs: [{name: ${file:/x}}]\n"))
	f.Add([]byte("version: 1\na: &a {<<: *a}\n"))
	f.Add([]byte("version: 1\nsources: [{name: a, type: files, <<: {path: /in}}]\n"))
	f.Add([]byte("version: 1\nsalesforce: {auth: {flow: jwt_bearer, private_key: '${file:/k}'}}\n"))

	opts := Options{
		LookupEnv: func(string) (string, bool) { return fuzzEnvValue, true },
		ReadFile:  func(string) ([]byte, error) { return []byte(fuzzFileValue), nil },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, opts)
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", c != nil, err)
		}
		var out string
		if err != nil {
			out = err.Error()
			var probs *Problems
			if errors.As(err, &probs) && probs.Len() == 0 {
				t.Fatal("empty *Problems returned as an error")
			}
		} else {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("a loaded config does not validate: %v", verr)
			}
			out = c.Summary() + fmt.Sprintf("%v %+v %#v", c, c, c)
		}
		if strings.Contains(string(data), "Zq7") {
			return // the input itself may hold the markers
		}
		if strings.Contains(out, fuzzEnvValue) || strings.Contains(out, fuzzFileValue) {
			t.Fatalf("a resolved reference leaked into the output:\n%s", out)
		}
	})
}
