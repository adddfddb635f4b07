package systest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weir-nifi/weir/internal/bundles/nar/nartest"
	"github.com/weir-nifi/weir/internal/harness"
)

// cliNAR is a NAR of one extension; its payload differs per coordinate so
// that a download of the wrong version would not compare equal.
func cliNAR(group, artifact, version, extName, extType string, tags ...string) []byte {
	return nartest.Build(nartest.Spec{Group: group, Artifact: artifact, Version: version, SystemAPI: "2.7.2",
		Extensions: []nartest.Extension{{Name: extName, Type: extType, Description: "a test extension", Tags: tags}},
		Payload:    bytes.Repeat([]byte(group+artifact+version), 4096)})
}

// outLines are the non-empty lines of a command's output.
func outLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestRegistryCLIBundles uses the toolkit's bundle and extension commands
// of `weir registry` against a real node: NARs uploaded one at a time and
// from a directory (a failed upload among them fails the command but not
// the others), browsed by bucket name, group and artifact, downloaded
// byte-identical to a file and a directory, their checksum fetched, and
// their extensions and tags listed with the filters.
func TestRegistryCLIBundles(t *testing.T) {
	n := harness.StartCluster(t, harness.ClusterOptions{N: 1}).MustLeader()
	srv := []string{"--server", n.API}
	reg := func(args ...string) string { t.Helper(); return strings.TrimSpace(regCLI(t, append(args, srv...)...)) }
	dir := t.TempDir()
	write := func(path string, b []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// A bucket name with a space: the browse commands put it in the path.
	const bucketName = "team bundles"
	bucket := reg("create-bucket", "--name", bucketName)

	// upload-bundle, with weir's flags and with the toolkit's options.
	alpha := cliNAR("org.example", "alpha-nar", "1.0.0", "org.example.AlphaProcessor", "PROCESSOR", "alpha", "shared")
	write(filepath.Join(dir, "alpha.nar"), alpha)
	if got := reg("upload-bundle", "--bucket", bucket, "--file", filepath.Join(dir, "alpha.nar")); got != "org.example::alpha-nar::1.0.0" {
		t.Fatalf("upload-bundle printed %q", got)
	}
	write(filepath.Join(dir, "delta.nar"), cliNAR("org.example", "delta-nar", "0.1", "org.example.DeltaTask", "REPORTING_TASK", "shared"))
	var made struct {
		Bundle          struct{ GroupID, ArtifactID string }
		VersionMetadata struct {
			Version        string
			SHA256         string
			SHA256Supplied bool
		}
	}
	out := regCLI(t, "upload-bundle", "-u", n.API, "--bucketIdentifier", bucket, "--extensionBundleType", "nifi-nar",
		"--extensionBundleFile", filepath.Join(dir, "delta.nar"), "--json")
	if err := json.Unmarshal([]byte(out), &made); err != nil || made.Bundle.ArtifactID != "delta-nar" || !made.VersionMetadata.SHA256Supplied {
		t.Fatalf("upload-bundle --json (the SHA-256 is sent): %v %s", err, out)
	}

	// upload-bundles: the .nar files of the directory, not the others and
	// not those of subdirectories.
	up := filepath.Join(dir, "up")
	beta1 := cliNAR("org.example", "beta-nar", "1.0.0", "org.example.BetaService", "CONTROLLER_SERVICE", "beta", "shared")
	beta2 := cliNAR("org.example", "beta-nar", "2.0.0", "org.example.BetaService", "CONTROLLER_SERVICE", "beta", "shared")
	write(filepath.Join(up, "beta-1.nar"), beta1)
	write(filepath.Join(up, "beta-2.nar"), beta2)
	write(filepath.Join(up, "README.txt"), []byte("not a bundle"))
	write(filepath.Join(up, "more", "gamma.nar"), cliNAR("org.other", "gamma-nar", "3.1", "org.other.GammaProcessor", "PROCESSOR", "gamma"))
	out = reg("upload-bundles", "--bucket", bucket, "--dir", up)
	if l := outLines(out); len(l) != 3 || l[2] != "uploaded 2 bundles" || !strings.Contains(out, "uploaded org.example::beta-nar::1.0.0") ||
		!strings.Contains(out, "uploaded org.example::beta-nar::2.0.0") {
		t.Fatalf("upload-bundles: %s", out)
	}
	// Recursively (the toolkit's -r): the betas exist, so they are
	// refused; gamma is uploaded all the same, and the command fails.
	out, errOut, err := weirCLI(t, "registry", "upload-bundles", "--bucketIdentifier", bucket, "--extensionBundleDir", up, "-r", "--server", n.API)
	if err == nil || !strings.Contains(out, "uploaded org.other::gamma-nar::3.1") || !strings.Contains(out, "uploaded 1 bundles") ||
		!strings.Contains(errOut, "2 of 3 bundles not uploaded") || !strings.Contains(errOut, "beta-1.nar") {
		t.Fatalf("upload-bundles -r over existing versions: %v\n%s%s", err, out, errOut)
	}

	// The browse commands, by bucket name.
	if l := outLines(reg("list-bundle-groups", "--bucket-name", bucketName)); len(l) != 3 || !strings.HasPrefix(l[0], "#") ||
		!strings.Contains(l[1]+l[2], "org.example") || !strings.Contains(l[1]+l[2], "org.other") || !strings.Contains(l[1], bucketName) {
		t.Fatalf("list-bundle-groups: %q", l)
	}
	// The WEIR_* twin of --server and the toolkit's bucketName.
	cmd := exec.Command(harness.Binary(t), "registry", "list-bundle-artifacts", "--bucketName", bucketName, "--group", "org.example")
	cmd.Env = append(os.Environ(), "WEIR_SERVER="+n.API)
	raw, err := cmd.Output()
	if l := outLines(string(raw)); err != nil || len(l) != 4 || !strings.Contains(string(raw), "alpha-nar") ||
		!strings.Contains(string(raw), "beta-nar") || !strings.Contains(string(raw), "delta-nar") || strings.Contains(string(raw), "gamma") {
		t.Fatalf("list-bundle-artifacts (WEIR_SERVER): %v %s", err, raw)
	}
	if l := outLines(reg("list-bundle-versions", "--bucket-name", bucketName, "--group", "org.example", "--artifact", "beta-nar")); len(l) != 3 ||
		!strings.Contains(strings.Join(l, "\n"), "1.0.0") || !strings.Contains(strings.Join(l, "\n"), "2.0.0") {
		t.Fatalf("list-bundle-versions: %q", l)
	}
	var vs []struct{ BucketName, GroupID, ArtifactID, Version string }
	out = reg("list-bundle-versions", "--bucket-name", bucketName, "--group", "org.other", "--artifact", "gamma-nar", "--json")
	if err := json.Unmarshal([]byte(out), &vs); err != nil || len(vs) != 1 || vs[0].Version != "3.1" || vs[0].BucketName != bucketName {
		t.Fatalf("list-bundle-versions --json: %v %s", err, out)
	}

	// download-bundle: to a directory under the registry's file name, and
	// to a file; both byte-identical to what was uploaded.
	dl := filepath.Join(dir, "dl")
	if err := os.Mkdir(dl, 0o755); err != nil {
		t.Fatal(err)
	}
	got := reg("download-bundle", "--bucket-name", bucketName, "--group", "org.example", "--artifact", "beta-nar", "--version", "2.0.0", "--output-dir", dl)
	if got != filepath.Join(dl, "beta-nar-2.0.0.nar") {
		t.Fatalf("download-bundle --output-dir printed %q", got)
	}
	if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, beta2) {
		t.Fatalf("downloaded beta-nar 2.0.0 differs from the upload (%d bytes, want %d): %v", len(b), len(beta2), err)
	}
	file := filepath.Join(dir, "alpha-copy.nar")
	reg("download-bundle", "--bucketName", bucketName, "--group", "org.example", "--artifact", "alpha-nar", "--version", "1.0.0", "-o", file)
	if b, err := os.ReadFile(file); err != nil || !bytes.Equal(b, alpha) {
		t.Fatalf("downloaded alpha-nar differs from the upload: %v", err)
	}
	if e := regCLIFails(t, "download-bundle", "--bucket-name", bucketName, "--group", "org.example", "--artifact", "beta-nar", "--version", "9.9", "-o", file, "--server", n.API); !strings.Contains(e, "404") {
		t.Fatalf("download of a missing version: %s", e)
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, alpha) {
		t.Fatal("a failed download changed the file it was to write")
	}

	// get-bundle-checksum: the SHA-256 of the uploaded bytes.
	sum := sha256.Sum256(beta1)
	if got := reg("get-bundle-checksum", "--bucket-name", bucketName, "--group", "org.example", "--artifact", "beta-nar", "--version", "1.0.0"); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("get-bundle-checksum: %q, want %x", got, sum)
	}

	// list-extensions: all of them, then the toolkit's filters and the
	// API's bundle type filter. NiFi answers a set ordered by display name,
	// so the two versions of BetaService are one row.
	out = reg("list-extensions")
	if l := outLines(out); len(l) != 5 || !strings.HasPrefix(l[0], "#") {
		t.Fatalf("list-extensions: %s", out)
	}
	for _, want := range []string{"org.example.AlphaProcessor", "org.example.BetaService", "org.other.GammaProcessor", "org.example.DeltaTask", "REPORTING_TASK", bucketName} {
		if !strings.Contains(out, want) {
			t.Fatalf("list-extensions lacks %q: %s", want, out)
		}
	}
	if out := reg("list-extensions", "--tags", "alpha, gamma"); len(outLines(out)) != 3 || !strings.Contains(out, "AlphaProcessor") || !strings.Contains(out, "GammaProcessor") {
		t.Fatalf("list-extensions --tags alpha,gamma: %s", out)
	}
	if out := reg("list-extensions", "--extensionType", "CONTROLLER_SERVICE"); len(outLines(out)) != 2 || !strings.Contains(out, "BetaService") {
		t.Fatalf("list-extensions --extensionType CONTROLLER_SERVICE: %s", out)
	}
	if out := reg("list-extensions", "--bundle-type", "minifi-cpp"); len(outLines(out)) != 1 {
		t.Fatalf("list-extensions --bundle-type minifi-cpp: %s", out)
	}
	var ext struct {
		NumResults   int
		Extensions   []struct{ Name string }
		FilterParams struct{ Tags []string }
	}
	out = reg("list-extensions", "--tags", "beta", "--json")
	if err := json.Unmarshal([]byte(out), &ext); err != nil || ext.NumResults != 1 || len(ext.Extensions) != 1 || ext.Extensions[0].Name != "org.example.BetaService" || len(ext.FilterParams.Tags) != 1 {
		t.Fatalf("list-extensions --json: %v %s", err, out)
	}

	// list-extension-tags: each tag with how many extensions carry it.
	counts := map[string]string{}
	for _, l := range outLines(reg("list-extension-tags"))[1:] {
		f := strings.Fields(l)
		if len(f) != 2 {
			t.Fatalf("list-extension-tags row %q", l)
		}
		counts[f[0]] = f[1]
	}
	if want := map[string]string{"alpha": "1", "beta": "2", "gamma": "1", "shared": "4"}; !maps.Equal(counts, want) {
		t.Fatalf("list-extension-tags: %v, want %v", counts, want)
	}
}
