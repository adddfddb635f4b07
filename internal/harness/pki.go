package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// PKI is a throwaway certificate authority for tests of secured nodes:
// server certificates for loopback addresses and client certificates
// with any subject, written as PEM files where the weir flags want them.
type PKI struct {
	t      T
	Dir    string
	CA     *x509.Certificate
	CAFile string
	key    *ecdsa.PrivateKey
}

var serial atomic.Int64

// T is what PKI needs of a test (testing.TB has it; benchmarks outside
// go test bring their own).
type T interface {
	Helper()
	Fatal(args ...any)
	TempDir() string
}

// NewPKI makes a CA named cn.
func NewPKI(t T, cn string) *PKI {
	t.Helper()
	p := &PKI{t: t, Dir: t.TempDir()}
	p.key = newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn, Organization: []string{"Weir tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	p.CA, _ = x509.ParseCertificate(der)
	p.CAFile = filepath.Join(p.Dir, "ca.pem")
	writePEM(t, p.CAFile, "CERTIFICATE", der)
	return p
}

func newKey(t T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t T, path, typ string, der []byte) {
	if err := os.WriteFile(path+".tmp", pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil { // replaced whole, as a renewal would
		t.Fatal(err)
	}
}

// Issue signs a certificate for subject, valid from notBefore to
// notAfter, for servers (with the IPs as SANs) or clients.
func (p *PKI) Issue(subject pkix.Name, ips []string, notBefore, notAfter time.Time) tls.Certificate {
	p.t.Helper()
	k := newKey(p.t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: subject,
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &k.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}
}

// Client is a client certificate valid now for subject "CN=<cn>, OU=<ou>".
func (p *PKI) Client(cn, ou string) tls.Certificate {
	return p.Issue(pkix.Name{CommonName: cn, OrganizationalUnit: []string{ou}}, nil, time.Now().Add(-time.Hour), time.Now().Add(12*time.Hour))
}

// WriteFiles writes a certificate and its key as PEM files named
// <name>.pem and <name>-key.pem, replacing earlier ones atomically.
func (p *PKI) WriteFiles(c tls.Certificate, name string) (certFile, keyFile string) {
	p.t.Helper()
	certFile, keyFile = filepath.Join(p.Dir, name+".pem"), filepath.Join(p.Dir, name+"-key.pem")
	kd, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		p.t.Fatal(err)
	}
	writePEM(p.t, keyFile, "EC PRIVATE KEY", kd)
	writePEM(p.t, certFile, "CERTIFICATE", c.Certificate[0])
	return certFile, keyFile
}

// ClientConfig is a TLS client configuration that trusts the CA and
// presents cert (none when cert has no certificate).
func (p *PKI) ClientConfig(cert tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if len(cert.Certificate) > 0 {
		// Presented whatever CAs the server names, so a test can show
		// that a foreign certificate is refused rather than left unsent.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	return cfg
}

// NodeTLS makes a node serve HTTPS.
type NodeTLS struct {
	PKI *PKI
	// ClientAuth is the --client-auth mode (default need).
	ClientAuth string
	// Client is the certificate the harness itself uses to reach the node.
	Client tls.Certificate
}
