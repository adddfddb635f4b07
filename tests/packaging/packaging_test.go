package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/harness"
)

// tool finds a validator; scripts/test.sh installs it. Absent, the test
// fails under CI=true and is skipped elsewhere (saying so).
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (scripts/test.sh installs it from Debian)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// The systemd unit passes `systemd-analyze verify` with no complaint at
// all (unknown keys are only warnings there, so any output fails), keeps
// its hardening, and passes only flags `weir server` has.
func TestSystemdUnit(t *testing.T) {
	sa := tool(t, "systemd-analyze")
	unit, err := os.ReadFile(filepath.Join(harness.ModuleRoot(t), "packaging", "systemd", "weir.service"))
	if err != nil {
		t.Fatal(err)
	}
	bin := harness.Binary(t)
	// verify checks that ExecStart's program exists and is executable.
	path := filepath.Join(t.TempDir(), "weir.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/weir"), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=weir", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"CapabilityBoundingSet=\n", "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes", "LoadCredential=cluster.key:"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("the unit lost %q", strings.TrimSpace(want))
		}
	}
	help, err := exec.Command(bin, "server", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("weir server --help: %v\n%s", err, help)
	}
	execStart := regexp.MustCompile(`(?m)^ExecStart=.*$`).Find(unit)
	for _, flag := range regexp.MustCompile(`--[a-z-]+`).FindAll(execStart, -1) {
		if !bytes.Contains(help, append(flag, ' ')) {
			t.Errorf("ExecStart passes %s, which weir server does not have", flag)
		}
	}
}

// Every shell script passes shellcheck.
func TestShellScripts(t *testing.T) {
	sc := tool(t, "shellcheck")
	root := harness.ModuleRoot(t)
	var scripts []string
	for _, pattern := range []string{"scripts/*.sh", "bench/*.sh", "bench/scripts/*.sh", ".ci/run"} {
		m, _ := filepath.Glob(filepath.Join(root, pattern))
		scripts = append(scripts, m...)
	}
	if len(scripts) < 4 {
		t.Fatalf("found only %v", scripts)
	}
	out, err := exec.Command(sc, append([]string{"-f", "gcc"}, scripts...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}

// `weir --version` and `weir version` say the same: version, commit, Go
// release and the API served.
func TestVersion(t *testing.T) {
	bin := harness.Binary(t)
	a, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || !regexp.MustCompile(`^weir \S+ \(.+, go1\.\d+.*, NiFi Registry API 2\.7\.2\)\n$`).Match(a) {
		t.Fatalf("--version %q, version %q", a, b)
	}
}

// The LICENSE is the Apache License 2.0, as NiFi's.
func TestLicense(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(harness.ModuleRoot(t), "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("Apache License\n                           Version 2.0, January 2004")) || !bytes.Contains(b, []byte("END OF TERMS AND CONDITIONS")) {
		t.Fatal("LICENSE is not the Apache License 2.0 text")
	}
}
