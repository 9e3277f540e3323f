// Package webtest writes the web configuration files the tests of both
// binaries serve with: basic auth with a bcrypt hash, and TLS with a
// self-signed certificate made on the spot, never committed.
package webtest

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
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// User and Password are the credentials the basic auth file accepts.
const (
	User     = "prometheus"
	Password = "s3cret"
)

// BasicAuth writes a web config file in dir that asks for User and
// Password and returns its path.
func BasicAuth(dir string) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(Password), bcrypt.MinCost)
	if err != nil {
		return "", err
	}
	return write(dir, "web-auth.yml", fmt.Sprintf("basic_auth_users:\n  %s: %s\n", User, hash))
}

// TLS writes a self-signed certificate for 127.0.0.1 and localhost, its
// key and a web config file serving HTTPS with them (and basic auth as
// BasicAuth's) in dir. It returns the config file and a client that
// trusts the certificate.
func TLS(dir string) (string, *http.Client, error) {
	certPEM, keyPEM, err := selfSigned()
	if err != nil {
		return "", nil, err
	}
	if _, err := write(dir, "cert.pem", string(certPEM)); err != nil {
		return "", nil, err
	}
	if _, err := write(dir, "key.pem", string(keyPEM)); err != nil {
		return "", nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(Password), bcrypt.MinCost)
	if err != nil {
		return "", nil, err
	}
	// relative paths: exporter-toolkit resolves them against the file's directory
	cfg, err := write(dir, "web-tls.yml", fmt.Sprintf("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  %s: %s\n", User, hash))
	if err != nil {
		return "", nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return cfg, client, nil
}

// Configs writes both files, BasicAuth's and TLS's, into a directory of
// the test's and returns them with the client for the TLS one.
func Configs(t testing.TB) (auth, tlsConfig string, tlsClient *http.Client) {
	t.Helper()
	dir := t.TempDir()
	auth, err := BasicAuth(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tlsConfig, tlsClient, err = TLS(dir); err != nil {
		t.Fatal(err)
	}
	return auth, tlsConfig, tlsClient
}

func selfSigned() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hostpush test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

func write(dir, name, body string) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, []byte(body), 0o600)
}

// Get fetches url with client, with User and Password when auth is true,
// and returns the status code.
func Get(client *http.Client, url string, auth bool) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if auth {
		req.SetBasicAuth(User, Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
