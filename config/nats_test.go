package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate and its key as PEM files and returns
// their paths.
func selfSigned(t *testing.T, dir, name string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestNATSSecurity(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir, "client")
	_, otherKey := selfSigned(t, dir, "other")
	seed := filepath.Join(dir, "user.nk")
	creds := filepath.Join(dir, "user.creds")
	junk := filepath.Join(dir, "junk.pem")
	for _, f := range []string{seed, creds, junk} {
		if err := os.WriteFile(f, []byte("not checked here: nats.go parses it at connect\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing")
	const url = "nats://n1:4222,nats://n2:4222"

	ok := map[string]string{
		"ENGAGED_NATS_URL": url, "ENGAGED_NATS_NKEY": seed,
		"ENGAGED_NATS_TLS_CA": cert, "ENGAGED_NATS_TLS_CERT": cert, "ENGAGED_NATS_TLS_KEY": key,
	}
	c, err := Load(nil, lookup(ok), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.NATSNKey != seed || c.NATSTLSCA != cert || c.NATSTLSCert != cert || c.NATSTLSKey != key || c.NATSCreds != "" {
		t.Fatalf("got %+v", c)
	}
	if _, err := Load([]string{"-nats-url", url, "-nats-creds", creds}, lookup(nil), io.Discard); err != nil {
		t.Fatalf("creds alone: %v", err)
	}

	bad := []struct {
		name  string
		env   map[string]string
		names string // the variable the error must name
	}{
		{"creds without an external url", map[string]string{"ENGAGED_NATS_CREDS": creds}, "ENGAGED_NATS_CREDS"},
		{"missing nkey file", map[string]string{"ENGAGED_NATS_URL": url, "ENGAGED_NATS_NKEY": missing}, "ENGAGED_NATS_NKEY"},
		{"missing ca file", map[string]string{"ENGAGED_NATS_URL": url, "ENGAGED_NATS_TLS_CA": missing}, "ENGAGED_NATS_TLS_CA"},
		{"creds and nkey", map[string]string{"ENGAGED_NATS_URL": url, "ENGAGED_NATS_CREDS": creds, "ENGAGED_NATS_NKEY": seed}, "ENGAGED_NATS_NKEY"},
		{"cert without key", map[string]string{"ENGAGED_NATS_URL": url, "ENGAGED_NATS_TLS_CERT": cert}, "ENGAGED_NATS_TLS_CERT"},
		{"key without cert", map[string]string{"ENGAGED_NATS_URL": url, "ENGAGED_NATS_TLS_KEY": key}, "ENGAGED_NATS_TLS_CERT"},
		{"cert with another key", map[string]string{"ENGAGED_NATS_URL": url, "ENGAGED_NATS_TLS_CERT": cert, "ENGAGED_NATS_TLS_KEY": otherKey}, "ENGAGED_NATS_TLS_CERT"},
		{"ca that is no certificate", map[string]string{"ENGAGED_NATS_URL": url, "ENGAGED_NATS_TLS_CA": junk}, "ENGAGED_NATS_TLS_CA"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(nil, lookup(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("err = %v, want one naming %s", err, tc.names)
			}
		})
	}
}
