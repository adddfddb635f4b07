package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/weir-nifi/weir/internal/harness"
)

// serverFlags are the flags `weir server` has, for checking the WEIR_*
// variables the artefacts set.
func serverFlags(t *testing.T) []byte {
	t.Helper()
	help, err := exec.Command(harness.Binary(t), "server", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("weir server --help: %v\n%s", err, help)
	}
	return help
}

// checkEnvNames fails for a WEIR_* name that is no flag of `weir server`.
func checkEnvNames(t *testing.T, where string, names []string, help []byte) {
	t.Helper()
	if len(names) == 0 {
		t.Fatalf("%s sets no WEIR_* variable", where)
	}
	for _, n := range names {
		flag := "--" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(n, "WEIR_")), "_", "-") + " "
		if !bytes.Contains(help, []byte(flag)) {
			t.Errorf("%s sets %s, but weir server has no %s", where, n, strings.TrimSpace(flag))
		}
	}
}

// The Containerfile passes BuildKit's parser and every check of its
// linter (what `docker build --check` runs), runs as a non-root user with
// /data as a volume, and its health check works against a real node.
func TestContainerfile(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(harness.ModuleRoot(t), "packaging", "container", "Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Errorf("parser: %s", w.Short)
	}
	var lints []string
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		lints = append(lints, rule+": "+msg)
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatal(err)
	}
	if len(lints) > 0 {
		t.Fatalf("linter: %v", lints)
	}
	final := stages[len(stages)-1]
	var user, volume string
	var health []string
	var env []string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.VolumeCommand:
			volume = strings.Join(c.Volumes, ",")
		case *instructions.HealthCheckCommand:
			health = c.Health.Test
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				env = append(env, kv.Key)
			}
		}
	}
	if user == "" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root") {
		t.Errorf("the image runs as %q, not a non-root user", user)
	}
	if volume != "/data" {
		t.Errorf("volume %q, want /data", volume)
	}
	checkEnvNames(t, "the Containerfile", env, serverFlags(t))

	// The health check, run with the real binary against a real node.
	if len(health) < 3 || health[0] != "CMD" || health[1] != "/weir" {
		t.Fatalf("health check %q", health)
	}
	n := harness.StartNode(t, harness.Options{IP: "127.0.0.1"})
	if err := n.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	args := slices.Clone(health[2:])
	for i, a := range args {
		if a == "http://127.0.0.1:18080" {
			args[i] = n.API
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.Command(harness.Binary(t), args...).CombinedOutput()
		if err == nil && regexp.MustCompile(`readiness: UP`).Match(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the health check %v against a ready node: %v\n%s", args, err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	n.Kill()
	if out, err := exec.Command(harness.Binary(t), args...).CombinedOutput(); err == nil {
		t.Fatalf("the health check passed with the node stopped:\n%s", out)
	}
}
