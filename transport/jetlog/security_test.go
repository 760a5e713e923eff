package jetlog

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// startSecured runs a real NATS server on a random loopback port with the
// authentication or TLS that opts requires, and returns its client URL.
func startSecured(t *testing.T, opts *server.Options) string {
	t.Helper()
	opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	opts.NoSigs, opts.NoLog = true, true
	opts.ServerName = "secured"
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("secured nats not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL()
}

// connectCase is one way of connecting and whether the server must accept it.
type connectCase struct {
	name string
	o    ConnectOptions
	ok   bool
	err  string // part of the error when !ok
}

func runConnectCases(t *testing.T, url string, cases []connectCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.URL, tc.o.Name = url, "test"
			nc, err := Connect(tc.o)
			if !tc.ok {
				if err == nil {
					nc.Close()
					t.Fatal("connected without the required credentials")
				}
				if !strings.Contains(strings.ToLower(err.Error()), tc.err) {
					t.Fatalf("error %q does not mention %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			// A round trip proves the server accepted the connection past
			// the handshake, not just the TCP dial.
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// userSeed makes an NKey user and writes its seed to a file.
func userSeed(t *testing.T, dir, name string) (pub, file string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ = kp.PublicKey()
	seed, _ := kp.Seed()
	return pub, writeFile(t, dir, name, seed)
}

func TestConnectNKey(t *testing.T) {
	dir := t.TempDir()
	pub, seed := userSeed(t, dir, "user.nk")
	_, stranger := userSeed(t, dir, "stranger.nk")
	url := startSecured(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	runConnectCases(t, url, []connectCase{
		{"no credentials", ConnectOptions{}, false, "authorization violation"},
		{"unknown nkey", ConnectOptions{NKeyFile: stranger}, false, "authorization violation"},
		{"nkey seed", ConnectOptions{NKeyFile: seed}, true, ""},
	})
}

func TestConnectCredsOperatorMode(t *testing.T) {
	dir := t.TempDir()
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	resolver := &server.MemAccResolver{}
	// account signs a fresh user and returns its .creds file, as `nsc`
	// would generate it.
	account := func(name string, trusted bool) string {
		acc, _ := nkeys.CreateAccount()
		accPub, _ := acc.PublicKey()
		ajwt, err := jwt.NewAccountClaims(accPub).Encode(op)
		if err != nil {
			t.Fatal(err)
		}
		if trusted {
			if err := resolver.Store(accPub, ajwt); err != nil {
				t.Fatal(err)
			}
		}
		user, _ := nkeys.CreateUser()
		userPub, _ := user.PublicKey()
		ujwt, err := jwt.NewUserClaims(userPub).Encode(acc)
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := user.Seed()
		creds, err := jwt.FormatUserConfig(ujwt, seed)
		if err != nil {
			t.Fatal(err)
		}
		return writeFile(t, dir, name, creds)
	}
	good := account("engaged.creds", true)
	unknown := account("unknown.creds", false)
	_, bareSeed := userSeed(t, dir, "bare.nk")
	url := startSecured(t, &server.Options{TrustedKeys: []string{opPub}, AccountResolver: resolver})
	runConnectCases(t, url, []connectCase{
		{"no credentials", ConnectOptions{}, false, "authorization violation"},
		{"nkey without a jwt", ConnectOptions{NKeyFile: bareSeed}, false, "authorization violation"},
		{"creds of an unknown account", ConnectOptions{CredsFile: unknown}, false, "authorization violation"},
		{"creds", ConnectOptions{CredsFile: good}, true, ""},
	})
}

// pki is a throwaway CA with a server certificate for 127.0.0.1 and a
// client certificate, all as PEM files.
type pki struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	OtherCA                                          string // a CA that signed none of them
}

func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(0)
	template := func(cn string) *x509.Certificate {
		serial++
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
		}
	}
	certPEM := func(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}) }
	keyPEM := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	newCA := func(cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		k := newKey()
		tmpl := template(cn)
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, k, certPEM(der)
	}
	ca, caKey, caPEM := newCA("engaged test CA")
	_, _, otherPEM := newCA("some other CA")
	leaf := func(cn string, usage x509.ExtKeyUsage) (cert, key []byte) {
		k := newKey()
		tmpl := template(cn)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return certPEM(der), keyPEM(k)
	}
	sc, sk := leaf("nats", x509.ExtKeyUsageServerAuth)
	cc, ck := leaf("engaged", x509.ExtKeyUsageClientAuth)
	return pki{
		CA:         writeFile(t, dir, "ca.pem", caPEM),
		OtherCA:    writeFile(t, dir, "other-ca.pem", otherPEM),
		ServerCert: writeFile(t, dir, "server.pem", sc),
		ServerKey:  writeFile(t, dir, "server-key.pem", sk),
		ClientCert: writeFile(t, dir, "client.pem", cc),
		ClientKey:  writeFile(t, dir, "client-key.pem", ck),
	}
}

func TestConnectTLSClientVerify(t *testing.T) {
	p := newPKI(t, t.TempDir())
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: p.ServerCert, KeyFile: p.ServerKey, CaFile: p.CA, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	url := startSecured(t, &server.Options{TLS: true, TLSVerify: true, TLSConfig: tc, TLSTimeout: 5})
	runConnectCases(t, url, []connectCase{
		// nats.go upgrades to TLS when the server requires it, then cannot
		// verify the server against the system roots.
		{"no tls options", ConnectOptions{}, false, "certificate"},
		{"ca but no client certificate", ConnectOptions{TLSCAFile: p.CA}, false, "tls"},
		{"client certificate but not the ca", ConnectOptions{TLSCertFile: p.ClientCert, TLSKeyFile: p.ClientKey}, false, "certificate"},
		{"another ca", ConnectOptions{TLSCAFile: p.OtherCA, TLSCertFile: p.ClientCert, TLSKeyFile: p.ClientKey}, false, "certificate"},
		{"ca and client certificate", ConnectOptions{TLSCAFile: p.CA, TLSCertFile: p.ClientCert, TLSKeyFile: p.ClientKey}, true, ""},
	})
}

// An NKey user over verified TLS: both at once, as a secured cluster
// usually asks.
func TestConnectNKeyOverTLS(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t, dir)
	pub, seed := userSeed(t, dir, "user.nk")
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: p.ServerCert, KeyFile: p.ServerKey, CaFile: p.CA, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	url := startSecured(t, &server.Options{TLS: true, TLSVerify: true, TLSConfig: tc, TLSTimeout: 5, Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	tlsOnly := ConnectOptions{TLSCAFile: p.CA, TLSCertFile: p.ClientCert, TLSKeyFile: p.ClientKey}
	both := tlsOnly
	both.NKeyFile = seed
	runConnectCases(t, url, []connectCase{
		{"tls without the nkey", tlsOnly, false, "authorization violation"},
		{"tls and nkey", both, true, ""},
	})
}

func TestConnectRejectsCredsWithNKey(t *testing.T) {
	dir := t.TempDir()
	_, seed := userSeed(t, dir, "user.nk")
	if _, err := Connect(ConnectOptions{URL: "nats://127.0.0.1:1", CredsFile: seed, NKeyFile: seed}); err == nil || !strings.Contains(err.Error(), "exclude") {
		t.Fatalf("err = %v, want the two to be refused together", err)
	}
}
