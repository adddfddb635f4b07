package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/client"
)

// getAccessTokenCmd prints an access token for --bearer-token: for a
// user of the registry's identity provider (LDAP) with --username and
// --password, as the toolkit's get-access-token, or for the client
// certificate's identity without them.
func getAccessTokenCmd() *cobra.Command {
	var f registryFlags
	var user, password string
	cmd := newRegCmd("get-access-token", "Print an access token: for --username/--password (the registry's login provider), or for the client certificate", &f)
	cmd.Flags().StringVar(&user, "username", "", "a user of the registry's identity provider (LDAP)")
	cmd.Flags().StringVar(&password, "password", "", "the user's password (prefer WEIR_PASSWORD)")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		var tok string
		var err error
		switch {
		case user != "" && password == "", user == "" && password != "":
			return errors.New("give --username and --password together")
		case user != "":
			tok, err = c.LoginToken(ctx, user, password)
		default:
			tok, err = c.AccessToken(ctx)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(out, tok)
		return nil
	})
	return cmd
}

// logoutAccessTokenCmd revokes the token --bearer-token names.
func logoutAccessTokenCmd() *cobra.Command {
	var f registryFlags
	cmd := newRegCmd("logout-access-token", "Revoke the access token given with --bearer-token", &f)
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		if f.token == "" {
			return errors.New("give the token to revoke with --bearer-token")
		}
		return c.Logout(ctx)
	})
	return cmd
}
