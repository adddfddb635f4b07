package apidoc

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

var update = flag.Bool("update", false, "rewrite swagger.json from the code")

// TestGenerated: the embedded swagger.json is what the code describes
// now (NiFi's document and weirOps); -update rewrites it.
func TestGenerated(t *testing.T) {
	doc, err := document()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile("swagger.json", b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(b, jsonDoc) {
		t.Fatal("swagger.json is not what the code describes: run go test ./internal/apidoc -update (and check the diff)")
	}
}

// TestDocumentValid: the served description is a valid OpenAPI 3.0
// document (kin-openapi's validation, examples aside), holds every
// operation of NiFi's and every Weir operation, and converts to YAML.
func TestDocumentValid(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(jsonDoc)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation(), openapi3.EnableMultiError()); err != nil {
		t.Fatalf("the description is not valid OpenAPI: %v", err)
	}
	nifi, err := openapi3.NewLoader().LoadFromFile(nifiDocFile)
	if err != nil {
		t.Fatal(err)
	}
	s2s, err := openapi3.NewLoader().LoadFromFile(s2sDocFile)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(paths(doc)), len(paths(nifi))+len(paths(s2s))+len(weirOps); got != want {
		t.Fatalf("%d operations described, want NiFi Registry's %d, site-to-site's %d and Weir's %d", got, len(paths(nifi)), len(paths(s2s)), len(weirOps))
	}
	if !slices.Contains(paths(doc), "GET /nifi-api/site-to-site/peers") || !slices.Contains(paths(doc), "GET /weir-api/cluster/status") || !slices.Contains(paths(doc), "GET /nifi-registry-api/buckets") {
		t.Fatalf("absolute paths: %v", paths(doc))
	}
	y, err := YAML()
	if err != nil || !bytes.Contains(y, []byte("/weir-api/cluster/status:")) {
		t.Fatalf("YAML: %v", err)
	}
}
