package salesforce

import (
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
	"net/url"
	"os"
	"time"
)

// jwtLifetime is how far ahead the assertion's exp lies; Salesforce wants
// it within a few minutes.
const jwtLifetime = 3 * time.Minute

// loadPrivateKey parses the JWT signing key from PEM text or a file. Errors
// name the source but never quote the key.
func loadPrivateKey(pemText, file string) (*rsa.PrivateKey, error) {
	data, src := []byte(pemText), "auth.private_key"
	if file != "" {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("auth.private_key_file: %w", err)
		}
		src = "auth.private_key_file " + file
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block found", src)
	}
	if x509.IsEncryptedPEMBlock(block) { //nolint:staticcheck // detecting, not decrypting
		return nil, fmt.Errorf("%s: encrypted PEM keys are not supported; decrypt it (openssl rsa)", src)
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: not a PKCS#1 RSA key", src)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: not a PKCS#8 key", src)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: the key is %T; Salesforce needs RSA (RS256)", src, k)
		}
		return rk, nil
	}
	return nil, fmt.Errorf("%s: PEM block %q is not a private key", src, block.Type)
}

// jwtAudience is the aud claim: the configured one, else the sandbox or
// production login host after LoginURL.
func jwtAudience(configured, loginURL string) string {
	if configured != "" {
		return configured
	}
	if u, err := url.Parse(loginURL); err == nil && isSandboxHost(u.Hostname()) {
		return "https://test.salesforce.com"
	}
	return "https://login.salesforce.com"
}

// signJWT returns a compact RS256 JWT asserting iss (the connected app's
// client ID), sub (the username) and aud, expiring jwtLifetime after now.
func signJWT(key *rsa.PrivateKey, iss, sub, aud string, now time.Time) (string, error) {
	if key == nil {
		return "", errors.New("no private key")
	}
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	claims, err := json.Marshal(struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
	}{iss, sub, aud, now.Add(jwtLifetime).Unix()})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing the JWT: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}
