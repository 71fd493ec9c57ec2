package sfemu

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Demo credentials: the connected app and user an emulator has when its
// AuthConfig lists none. They are printed at start-up and listed in
// docs/emulator.md; they open nothing but an emulator.
const (
	DemoAppName      = "sfbridge Emulator Demo"
	DemoClientID     = "sfbridge-emulator-demo"
	DemoClientSecret = "emulator-demo-secret"
	DemoPassword     = "emulator-password"
)

// RunAsNone disables the client_credentials grant of a connected app.
const RunAsNone = "none"

// AuthConfig is the org's OAuth configuration: connected apps and users.
// In a schema file it is the top-level "auth:" section (LoadOrgFile).
type AuthConfig struct {
	// Apps are the connected apps; none means the demo app.
	Apps []ConnectedApp `yaml:"apps"`
	// Users are the users that can log in; none means the org's default
	// user (Options.Username) with DemoPassword. A user whose username is
	// Options.Username is the org's default user; any other gets a User
	// record created at its first login.
	Users []UserCredential `yaml:"users"`
}

// ConnectedApp is one connected app (consumer key and secret).
type ConnectedApp struct {
	Name         string `yaml:"name"`
	ClientID     string `yaml:"clientId"`
	ClientSecret string `yaml:"clientSecret"`
	// RunAs is the username client_credentials sessions run as: empty
	// means the org's default user, "none" disables the grant (invalid_grant
	// "no client credentials user enabled").
	RunAs string `yaml:"runAs"`
	// Certificate is a PEM certificate or PEM public key (RSA) that JWT
	// bearer assertions must be signed for; CertificateFile reads it from a
	// file. Without either the app refuses JWT bearer, except the demo app,
	// which uses the demo key (DemoJWTKeyPEM).
	Certificate     string `yaml:"certificate"`
	CertificateFile string `yaml:"certificateFile"`
	// Audiences are JWT aud values accepted besides
	// https://login.salesforce.com, https://test.salesforce.com and the
	// emulator's own URL.
	Audiences []string `yaml:"audiences"`
	// Scope is the token response's scope ("api").
	Scope string `yaml:"scope"`
}

// UserCredential is a user that can log in with the password grant (and be
// named by JWT sub or a connected app's runAs).
type UserCredential struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// SecurityToken, when set, must follow the password (the password grant
	// sends password+token, fact sheet §1.1).
	SecurityToken string `yaml:"securityToken"`
}

// WithDefaults returns c with the demo app when it has no apps and the
// demo user (named defaultUsername) when it has no users.
func (c AuthConfig) WithDefaults(defaultUsername string) AuthConfig {
	if len(c.Apps) == 0 {
		c.Apps = []ConnectedApp{{Name: DemoAppName, ClientID: DemoClientID, ClientSecret: DemoClientSecret}}
	}
	if len(c.Users) == 0 {
		c.Users = []UserCredential{{Username: defaultUsername, Password: DemoPassword}}
	}
	return c
}

// IsDemo reports whether app is the built-in demo app.
func (a ConnectedApp) IsDemo() bool {
	return a.ClientID == DemoClientID && a.Certificate == "" && a.CertificateFile == ""
}

// Validate checks c without defaults: every problem, each with its path
// under "auth". Certificate files are read.
func (c AuthConfig) Validate() error {
	_, err := compileAuth(c)
	return err
}

// compiledApp is a connected app with its JWT key parsed.
type compiledApp struct {
	ConnectedApp
	key  *rsa.PublicKey // nil: JWT bearer refused (unless demo)
	demo bool
}

// compileAuth validates c and parses its certificates.
func compileAuth(c AuthConfig) ([]*compiledApp, error) {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("auth.%s: "+format, append([]any{path}, args...)...))
	}
	users := map[string]bool{}
	for i, u := range c.Users {
		p := fmt.Sprintf("users[%d]", i)
		switch {
		case u.Username == "":
			add(p+".username", "required")
		case !isEmailShaped(u.Username):
			add(p+".username", "%q is not in the form of an email address", u.Username)
		case users[strings.ToLower(u.Username)]:
			add(p+".username", "%q is listed twice", u.Username)
		}
		users[strings.ToLower(u.Username)] = true
		if u.Password == "" {
			add(p+".password", "required")
		}
	}
	ids := map[string]bool{}
	var apps []*compiledApp
	for i, a := range c.Apps {
		p := fmt.Sprintf("apps[%d]", i)
		ca := &compiledApp{ConnectedApp: a, demo: a.IsDemo()}
		if ca.Scope == "" {
			ca.Scope = "api"
		}
		switch {
		case a.ClientID == "":
			add(p+".clientId", "required")
		case ids[a.ClientID]:
			add(p+".clientId", "%q is listed twice", a.ClientID)
		}
		ids[a.ClientID] = true
		if a.ClientSecret == "" {
			add(p+".clientSecret", "required")
		}
		if a.RunAs != "" && a.RunAs != RunAsNone && len(c.Users) > 0 && !users[strings.ToLower(a.RunAs)] {
			add(p+".runAs", "%q is not one of auth.users", a.RunAs)
		}
		pemText := a.Certificate
		switch {
		case a.Certificate != "" && a.CertificateFile != "":
			add(p+".certificate", "set certificate or certificateFile, not both")
			pemText = ""
		case a.CertificateFile != "":
			b, err := os.ReadFile(a.CertificateFile)
			if err != nil {
				add(p+".certificateFile", "%v", err)
			}
			pemText = string(b)
		}
		if pemText != "" {
			key, err := parseRSAPublicKey([]byte(pemText))
			if err != nil {
				add(p+".certificate", "%v", err)
			}
			ca.key = key
		}
		apps = append(apps, ca)
	}
	return apps, errors.Join(errs...)
}

func isEmailShaped(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// parseRSAPublicKey reads the RSA public key of a PEM certificate or PEM
// public key ("PUBLIC KEY" or "RSA PUBLIC KEY").
func parseRSAPublicKey(b []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found (want a certificate or public key)")
	}
	var pub any
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		pub = cert.PublicKey
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		pub = k
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		pub = k
	default:
		return nil, fmt.Errorf("PEM block %q is not a certificate or public key", block.Type)
	}
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, JWT bearer needs RSA (RS256)", pub)
	}
	return k, nil
}

// LoadOrgFile reads an org file: a schema document (LoadSchema) that may
// also carry an "auth:" section (AuthConfig). The auth section is decoded
// strictly; the rest is parsed by ParseSchema with line numbers kept.
func LoadOrgFile(path string) (*Schema, AuthConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, AuthConfig{}, fmt.Errorf("schema: %w", err)
	}
	s, auth, err := ParseOrgFile(b)
	if err != nil {
		return nil, AuthConfig{}, fmt.Errorf("schema %s: %w", path, err)
	}
	return s, auth, nil
}

// ParseOrgFile is LoadOrgFile on a document in memory. The auth section is
// validated (Validate) as well.
func ParseOrgFile(data []byte) (*Schema, AuthConfig, error) {
	var doc struct {
		Version any        `yaml:"version"`
		Base    any        `yaml:"base"`
		Objects any        `yaml:"objects"`
		Auth    AuthConfig `yaml:"auth"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, AuthConfig{}, fmt.Errorf("decode: %w", err)
	}
	if err := doc.Auth.Validate(); err != nil {
		return nil, AuthConfig{}, err
	}
	rest, err := withoutTopKey(data, "auth")
	if err != nil {
		return nil, AuthConfig{}, err
	}
	s, err := ParseSchema(rest)
	if err != nil {
		return nil, AuthConfig{}, err
	}
	return s, doc.Auth, nil
}

// withoutTopKey returns the YAML document data without its top-level key:
// in block style the key's lines are blanked, so line numbers in later
// error messages still point into the original file.
func withoutTopKey(data []byte, key string) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return data, nil
	}
	m := root.Content[0]
	idx := -1
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			idx = i
		}
	}
	if idx < 0 {
		return data, nil
	}
	if m.Style&yaml.FlowStyle != 0 {
		m.Content = append(m.Content[:idx:idx], m.Content[idx+2:]...)
		return yaml.Marshal(&root)
	}
	from, to := m.Content[idx].Line, -1 // 1-based, to exclusive (-1: EOF)
	if idx+2 < len(m.Content) {
		to = m.Content[idx+2].Line
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	for i := range lines {
		n := i + 1
		if n >= from && (to < 0 || n < to) {
			if bytes.HasSuffix(lines[i], []byte("\n")) {
				lines[i] = []byte("\n")
			} else {
				lines[i] = nil
			}
		}
	}
	return bytes.Join(lines, nil), nil
}
