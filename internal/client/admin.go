package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// Signer proves the cluster key on an operations request (package
// adminauth signs it, or adds the admin token).
type Signer func(req *http.Request, body []byte) error

// Admin sends a request to a Weir path outside the registry API
// ("/weir-api/…") of the node at base, signed when sign is set, and
// decodes a 2xx JSON answer into out (when not nil). Other answers are
// *Error.
func Admin(ctx context.Context, hc *http.Client, sign Signer, base, method, path string, in, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if sign != nil {
		if err := sign(req, payload); err != nil {
			return err
		}
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(b)), Header: resp.Header}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
