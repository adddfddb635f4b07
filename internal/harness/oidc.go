package harness

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// OIDC is an OpenID Connect provider for login tests: zitadel's OP (a
// maintained Go implementation of the provider side: discovery, the code
// flow with PKCE, signed ID tokens, UserInfo) with its example storage,
// served on loopback. Its users include "test-user2" / "verysecure"
// (email test-user2@zitadel.ch).
type OIDC struct {
	Issuer       string
	ClientID     string
	ClientSecret string
}

// StartOIDC starts a provider with a confidential client allowed to
// redirect to redirectURIs.
func StartOIDC(t testing.TB, redirectURIs ...string) *OIDC {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &OIDC{Issuer: "http://" + ln.Addr().String(), ClientID: fmt.Sprintf("weir-%d", serial.Add(1)), ClientSecret: "weir-client-secret"}
	storage.RegisterClients(storage.WebClient(o.ClientID, o.ClientSecret, redirectURIs...))
	st := storage.NewStorage(storage.NewUserStore(o.Issuer))
	router := exampleop.SetupServer(o.Issuer, st, slog.New(slog.DiscardHandler), false)
	srv := &http.Server{Handler: router}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return o
}
