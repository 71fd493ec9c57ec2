package sfemu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// TLSCert is a self-signed certificate for serving the emulator over https
// to clients that insist on it (simple-salesforce, fact sheet §12.4). It is
// its own CA: a client trusts it by adding CertPEM to its roots
// (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, curl --cacert).
type TLSCert struct {
	Certificate tls.Certificate
	// CertPEM is the certificate alone, for clients to trust.
	CertPEM []byte
	// Leaf is the parsed certificate.
	Leaf *x509.Certificate
}

// DefaultTLSHosts are the names a generated certificate covers when none
// are given.
var DefaultTLSHosts = []string{"127.0.0.1", "::1", "localhost"}

// GenerateTLSCert makes a fresh ECDSA P-256 certificate for hosts (IP
// addresses or DNS names; DefaultTLSHosts when empty), valid from an hour
// before now for a year.
func GenerateTLSCert(now time.Time, hosts ...string) (*TLSCert, error) {
	if len(hosts) == 0 {
		hosts = DefaultTLSHosts
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tls: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tls: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "sfbridge Salesforce emulator", Organization: []string{"sfbridge emulator (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("tls: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tls: parse certificate: %w", err)
	}
	return &TLSCert{
		Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		CertPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Leaf:        leaf,
	}, nil
}

// ServerConfig returns a TLS server config serving the certificate
// (HTTP/1.1 only: outage faults close connections through http.Hijacker).
func (c *TLSCert) ServerConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{c.Certificate},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

// ClientConfig returns a TLS client config that trusts only the
// certificate.
func (c *TLSCert) ClientConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(c.Leaf)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// WritePEM writes the certificate (not the key) to path, for clients to
// trust.
func (c *TLSCert) WritePEM(path string) error {
	if err := os.WriteFile(path, c.CertPEM, 0o644); err != nil {
		return fmt.Errorf("tls: write certificate: %w", err)
	}
	return nil
}
