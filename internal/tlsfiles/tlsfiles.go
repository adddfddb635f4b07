// Package tlsfiles serves TLS from certificate, key and CA files that an
// operator (or cert-manager, or certbot) replaces while Weir runs: every
// handshake gets the newest valid files, checked at most every few
// seconds; a replacement that does not load is logged and the previous
// files stay in use, so a half-written renewal never takes the listener
// down.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// ClientAuth names the --client-auth modes.
func ClientAuth(mode string) (tls.ClientAuthType, error) {
	switch mode {
	case "", "none":
		return tls.NoClientCert, nil
	case "want":
		return tls.VerifyClientCertIfGiven, nil
	case "need":
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf("--client-auth is none, want or need, not %q", mode)
}

// Files are the PEM files of a TLS server.
type Files struct {
	Cert, Key string
	// CA verifies client certificates (required unless ClientAuth is
	// NoClientCert).
	CA         string
	ClientAuth tls.ClientAuthType
	Log        *slog.Logger
	// Every is how often the files are checked for changes (default 2 s).
	Every time.Duration
}

// Server hands out the current configuration.
type Server struct {
	f Files

	mu      sync.Mutex
	cfg     *tls.Config
	stamp   string
	checked time.Time
}

// New loads the files; they must be valid now.
func New(f Files) (*Server, error) {
	if f.Cert == "" || f.Key == "" {
		return nil, errors.New("TLS needs both --tls-cert and --tls-key")
	}
	if f.ClientAuth != tls.NoClientCert && f.CA == "" {
		return nil, errors.New("--client-auth want or need needs --tls-ca to verify client certificates")
	}
	if f.Log == nil {
		f.Log = slog.New(slog.DiscardHandler)
	}
	if f.Every <= 0 {
		f.Every = 2 * time.Second
	}
	s := &Server{f: f}
	cfg, stamp, err := s.load()
	if err != nil {
		return nil, err
	}
	s.cfg, s.stamp, s.checked = cfg, stamp, time.Now()
	return s, nil
}

// Config is the listener's configuration: it picks the current files for
// every new connection.
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.current(), nil
		},
	}
}

// Leaf is the certificate in use (tests, status).
func (s *Server) Leaf() *x509.Certificate {
	cfg := s.current()
	return cfg.Certificates[0].Leaf
}

func (s *Server) current() *tls.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.checked) < s.f.Every {
		return s.cfg
	}
	s.checked = time.Now()
	if st := s.fileStamp(); st == s.stamp {
		return s.cfg
	}
	cfg, stamp, err := s.load()
	if err != nil {
		s.f.Log.Warn("TLS files changed but do not load; still serving the previous ones", "err", err)
		return s.cfg
	}
	s.cfg, s.stamp = cfg, stamp
	s.f.Log.Info("TLS files reloaded", "subject", cfg.Certificates[0].Leaf.Subject.String(), "notAfter", cfg.Certificates[0].Leaf.NotAfter)
	return s.cfg
}

// fileStamp changes whenever one of the files does.
func (s *Server) fileStamp() string {
	out := ""
	for _, p := range []string{s.f.Cert, s.f.Key, s.f.CA} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			out += fmt.Sprintf("%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return out
}

func (s *Server) load() (*tls.Config, string, error) {
	stamp := s.fileStamp()
	cert, err := tls.LoadX509KeyPair(s.f.Cert, s.f.Key)
	if err != nil {
		return nil, "", fmt.Errorf("TLS certificate %s / key %s: %w", s.f.Cert, s.f.Key, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
		Certificates: []tls.Certificate{cert},
		ClientAuth:   s.f.ClientAuth,
		// Full-size records from the first byte: Go otherwise starts every
		// connection with ~1 KB records (for a browser's first paint on a
		// slow link) until 128 KB have been sent, one write system call
		// each; a registry answer of 16 KB then took 14 writes instead of
		// 2 (bench/authz's profile).
		DynamicRecordSizingDisabled: true,
	}
	if s.f.CA != "" {
		pem, err := os.ReadFile(s.f.CA)
		if err != nil {
			return nil, "", fmt.Errorf("TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("TLS CA %s: no certificates found", s.f.CA)
		}
		cfg.ClientCAs = pool
	}
	return cfg, stamp, nil
}
