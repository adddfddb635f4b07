package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestApplyConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "weir.yaml")
	if err := os.WriteFile(file, []byte(`
data-dir: /from/file
listen: 10.0.0.1:18080
backup-keep: 3
backup-interval: 90s
admin-open: true
allowed-hosts: [lb.example, "lb.example:8443"]
zone: from-file
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := serverCmd()
	t.Setenv("WEIR_ZONE", "from-env")
	if err := cmd.ParseFlags([]string{"--config", file, "--listen", "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(cmd); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(cmd); err != nil {
		t.Fatal(err)
	}
	get := func(name string) string { return cmd.Flags().Lookup(name).Value.String() }
	for name, want := range map[string]string{
		"data-dir":        "/from/file",  // from the file
		"listen":          "127.0.0.1:1", // the command line wins
		"zone":            "from-env",    // the environment wins
		"backup-keep":     "3",           // a number
		"backup-interval": (90 * time.Second).String(),
		"admin-open":      "true",
	} {
		if got := get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	hosts, _ := cmd.Flags().GetStringSlice("allowed-hosts")
	if !reflect.DeepEqual(hosts, []string{"lb.example", "lb.example:8443"}) {
		t.Errorf("allowed-hosts = %q", hosts)
	}

	// A typo is an error naming it.
	if err := os.WriteFile(file, []byte("data-dri: /x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = serverCmd()
	if err := cmd.ParseFlags([]string{"--config", file}); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(cmd); err == nil || !strings.Contains(err.Error(), `"data-dri"`) {
		t.Fatalf("unknown setting: %v", err)
	}
	// No --config: nothing to do.
	if err := applyConfig(&cobra.Command{}); err != nil {
		t.Fatal(err)
	}
}
