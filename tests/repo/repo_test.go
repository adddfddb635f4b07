package repo

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/harness"
)

// Every package has a doc comment saying what it owns.
func TestEveryPackageHasADocComment(t *testing.T) {
	root := harness.ModuleRoot(t)
	checked := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		files, _ := filepath.Glob(filepath.Join(path, "*.go"))
		var src []string
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				src = append(src, f)
			}
		}
		if len(src) == 0 {
			return nil
		}
		checked++
		documented := false
		for _, f := range src {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if af.Doc != nil && strings.TrimSpace(af.Doc.Text()) != "" {
				documented = true
			}
		}
		if !documented {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("package %s has no doc comment", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("only %d packages found; is the walk broken?", checked)
	}
}

// The server binary must not carry test-only dependencies.
func TestServerHasNoTestOnlyDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/weir-nifi/weir/cmd/weir").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, forbidden := range []string{
		"github.com/anishathalye/porcupine",
		"github.com/getkin/kin-openapi",
		"github.com/jackc/pgx",
		"github.com/weir-nifi/weir/internal/harness",
		"github.com/weir-nifi/weir/internal/flowgen",
		// "testing" itself cannot be listed: hashicorp/raft imports it
		// for its exported test helpers.
	} {
		for _, dep := range strings.Fields(string(out)) {
			if dep == forbidden || strings.HasPrefix(dep, forbidden+"/") {
				t.Errorf("cmd/weir depends on %s", dep)
			}
		}
	}
}
