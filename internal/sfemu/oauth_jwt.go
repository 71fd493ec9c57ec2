package sfemu

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// jwtClaims are the JWT bearer assertion claims Salesforce reads (fact
// sheet §1.1).
type jwtClaims struct {
	Iss string
	Sub string
	Aud []string
	Exp time.Time
}

var errBadAssertion = errors.New("invalid assertion")

// parseJWT splits and decodes an RS256 JWT without verifying it; it
// returns the signing input and signature for verifyJWT. exp is accepted as
// a number or a numeric string (go-salesforce sends a string, sfdx-core a
// number in milliseconds: very large values are accepted as far future).
func parseJWT(assertion string) (claims jwtClaims, signed, sig []byte, err error) {
	parts := strings.Split(strings.TrimSpace(assertion), ".")
	if len(parts) != 3 {
		return claims, nil, nil, errBadAssertion
	}
	dec := func(s string) ([]byte, error) {
		return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	hb, err1 := dec(parts[0])
	cb, err2 := dec(parts[1])
	sig, err3 := dec(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return claims, nil, nil, errBadAssertion
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &hdr) != nil || hdr.Alg != "RS256" {
		return claims, nil, nil, errBadAssertion
	}
	var raw map[string]any
	d := json.NewDecoder(bytes.NewReader(cb))
	d.UseNumber()
	if d.Decode(&raw) != nil {
		return claims, nil, nil, errBadAssertion
	}
	str := func(k string) string { s, _ := raw[k].(string); return s }
	claims.Iss = str("iss")
	claims.Sub = str("sub")
	if claims.Sub == "" {
		claims.Sub = str("prn") // the draft spec's name, still sent by old clients
	}
	switch a := raw["aud"].(type) {
	case string:
		claims.Aud = []string{a}
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok {
				claims.Aud = append(claims.Aud, s)
			}
		}
	}
	exp, ok := numericClaim(raw["exp"])
	if !ok {
		return claims, nil, nil, errBadAssertion
	}
	claims.Exp = unixSeconds(exp)
	return claims, []byte(parts[0] + "." + parts[1]), sig, nil
}

// numericClaim reads a JSON number or a numeric string.
func numericClaim(v any) (float64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// unixSeconds converts seconds since the epoch, clamping values beyond
// year 9999 (sfdx-core's milliseconds) to far future.
func unixSeconds(f float64) time.Time {
	const maxSec = 253402300799 // 9999-12-31T23:59:59Z
	if f > maxSec {
		f = maxSec
	}
	if f < 0 {
		f = 0
	}
	return time.Unix(int64(f), 0)
}

func verifyJWT(key *rsa.PublicKey, signed, sig []byte) bool {
	if key == nil {
		return false
	}
	h := sha256.Sum256(signed)
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, h[:], sig) == nil
}

// SignJWT makes an RS256 JWT bearer assertion for clients and tests:
// iss = clientID, sub = username, aud, exp = now+ttl as a number.
func SignJWT(key *rsa.PrivateKey, clientID, username, aud string, exp time.Time) (string, error) {
	return signJWTClaims(key, map[string]any{"iss": clientID, "sub": username, "aud": aud, "exp": exp.Unix()})
}

func signJWTClaims(key *rsa.PrivateKey, claims map[string]any) (string, error) {
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(hdr) + "." + enc.EncodeToString(body)
	h := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		return "", err
	}
	return signed + "." + enc.EncodeToString(sig), nil
}

// The demo app's JWT key pair is generated once per process, when first
// needed: it is an emulator's key, not a secret.
var (
	demoKeyOnce sync.Once
	demoKey     *rsa.PrivateKey
	demoKeyErr  error
)

// DemoJWTKey returns the private key whose signatures the demo connected
// app accepts (generated once per process).
func DemoJWTKey() (*rsa.PrivateKey, error) {
	demoKeyOnce.Do(func() {
		demoKey, demoKeyErr = rsa.GenerateKey(rand.Reader, 2048)
		if demoKeyErr != nil {
			demoKeyErr = fmt.Errorf("generate demo JWT key: %w", demoKeyErr)
		}
	})
	return demoKey, demoKeyErr
}

// DemoJWTKeyPEM returns DemoJWTKey as a PKCS#1 "RSA PRIVATE KEY" PEM
// block, the form jsforce, the sf CLI (--jwt-key-file) and go-salesforce
// read.
func DemoJWTKeyPEM() ([]byte, error) {
	k, err := DemoJWTKey()
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
}

// publicKeyPEM encodes an RSA public key as a "PUBLIC KEY" PEM block.
func publicKeyPEM(k *rsa.PublicKey) []byte {
	b, _ := x509.MarshalPKIXPublicKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: b})
}
