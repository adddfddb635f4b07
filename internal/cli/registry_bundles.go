package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/model"
)

// The toolkit's extension commands (command/registry/extension). Bundles
// are addressed as the toolkit does: uploads by bucket id, everything
// else by bucket name and coordinates through /extension-repository, so
// a command line written for the toolkit works unchanged.

func bundleCmds() []*cobra.Command {
	return []*cobra.Command{uploadBundleCmd(), uploadBundlesCmd(), listBundleGroupsCmd(), listBundleArtifactsCmd(),
		listBundleVersionsCmd(), downloadBundleCmd(), getBundleChecksumCmd(), listExtensionsCmd(), listExtensionTagsCmd()}
}

// bundleTypeFlag is --bundle-type (the toolkit's extensionBundleType).
// The toolkit requires it; nifi-nar is the default here because it is
// the only type NiFi itself loads.
func bundleTypeFlag(cmd *cobra.Command, v *string) {
	cmd.Flags().StringVar(v, "bundle-type", "nifi-nar", "the bundle type: nifi-nar or minifi-cpp")
}

// coordFlags are the toolkit's bucketName, group, artifact and version
// options; required lists those the command needs.
type coordFlags struct{ bucketName, group, artifact, version string }

func (c *coordFlags) register(cmd *cobra.Command, required ...string) {
	fl := cmd.Flags()
	fl.StringVar(&c.bucketName, "bucket-name", "", "the bucket's name")
	if slices.Contains(required, "group") {
		fl.StringVar(&c.group, "group", "", "the bundle's group id")
	}
	if slices.Contains(required, "artifact") {
		fl.StringVar(&c.artifact, "artifact", "", "the bundle's artifact id")
	}
	if slices.Contains(required, "version") {
		fl.StringVar(&c.version, "version", "", "the bundle's version")
	}
	for _, n := range append([]string{"bucket-name"}, required...) {
		_ = cmd.MarkFlagRequired(n)
	}
}

func coordinate(v *model.BundleVersion) string {
	if v.Bundle == nil || v.VersionMetadata == nil {
		return ""
	}
	return v.Bundle.GroupID + "::" + v.Bundle.ArtifactID + "::" + v.VersionMetadata.Version
}

// uploadFile uploads one bundle file with its SHA-256 unless skip: the
// registry then refuses content that changed on the way.
func uploadFile(ctx context.Context, c *client.Client, bucket, bundleType, path string, skip bool) (*model.BundleVersion, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sum := ""
	if !skip {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return nil, err
		}
		sum = hex.EncodeToString(h.Sum(nil))
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return c.UploadBundle(ctx, bucket, bundleType, f, sum)
}

func uploadBundleCmd() *cobra.Command {
	var f registryFlags
	var bucket, bundleType, file string
	var skip bool
	cmd := newRegCmd("upload-bundle", "Upload a bundle (a NAR) to a bucket and print its group::artifact::version", &f)
	cmd.Flags().StringVar(&bucket, "bucket", "", "the bucket's id (required)")
	cmd.Flags().StringVar(&file, "file", "", "the bundle file (required)")
	cmd.Flags().BoolVar(&skip, "skip-sha256", false, "do not compute and send the file's SHA-256")
	bundleTypeFlag(cmd, &bundleType)
	_ = cmd.MarkFlagRequired("bucket")
	_ = cmd.MarkFlagRequired("file")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		v, err := uploadFile(ctx, c, bucket, bundleType, file, skip)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(out, v)
		}
		_, err = fmt.Fprintln(out, coordinate(v))
		return err
	})
	return cmd
}

func uploadBundlesCmd() *cobra.Command {
	var f registryFlags
	var bucket, bundleType, dir, ext string
	var skip, recursive bool
	cmd := newRegCmd("upload-bundles", "Upload every bundle file of a directory to a bucket", &f)
	cmd.Flags().StringVar(&bucket, "bucket", "", "the bucket's id (required)")
	cmd.Flags().StringVar(&dir, "dir", "", "the directory of bundle files (required)")
	cmd.Flags().StringVar(&ext, "file-extension", ".nar", "upload only files whose name ends so (\"\" for every file)")
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "also upload from subdirectories")
	cmd.Flags().BoolVar(&skip, "skip-sha256", false, "do not compute and send the files' SHA-256")
	bundleTypeFlag(cmd, &bundleType)
	_ = cmd.MarkFlagRequired("bucket")
	_ = cmd.MarkFlagRequired("dir")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		if st, err := os.Stat(dir); err != nil {
			return err
		} else if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		var files []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != dir && !recursive {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(d.Name(), ext) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Like the toolkit, one failed file does not stop the others; unlike
		// it, the command then fails, so that a script sees it.
		var made []*model.BundleVersion
		var failed []error
		for _, p := range files {
			v, err := uploadFile(ctx, c, bucket, bundleType, p, skip)
			if err != nil {
				failed = append(failed, fmt.Errorf("%s: %w", p, apiError(err)))
				continue
			}
			made = append(made, v)
			if !f.json {
				fmt.Fprintln(out, "uploaded "+coordinate(v))
			}
		}
		if f.json {
			if err := printJSON(out, made); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(out, "uploaded %d bundles\n", len(made))
		}
		if len(failed) > 0 {
			return fmt.Errorf("%d of %d bundles not uploaded: %w", len(failed), len(files), errors.Join(failed...))
		}
		return nil
	})
	return cmd
}

func listBundleGroupsCmd() *cobra.Command {
	var k coordFlags
	return listCmd("list-bundle-groups", "List the bundle groups of a bucket (by name)", "#\tBUCKET\tGROUP",
		func(cmd *cobra.Command) { k.register(cmd) },
		func(ctx context.Context, c *client.Client) ([]model.ExtensionRepoGroup, error) {
			return c.RepoGroups(ctx, k.bucketName)
		},
		func(i int, g model.ExtensionRepoGroup) string {
			return fmt.Sprintf("%d\t%s\t%s", i+1, g.BucketName, g.GroupID)
		})
}

func listBundleArtifactsCmd() *cobra.Command {
	var k coordFlags
	return listCmd("list-bundle-artifacts", "List the bundle artifacts of a group in a bucket", "#\tBUCKET\tGROUP\tARTIFACT",
		func(cmd *cobra.Command) { k.register(cmd, "group") },
		func(ctx context.Context, c *client.Client) ([]model.ExtensionRepoArtifact, error) {
			return c.RepoArtifacts(ctx, k.bucketName, k.group)
		},
		func(i int, a model.ExtensionRepoArtifact) string {
			return fmt.Sprintf("%d\t%s\t%s\t%s", i+1, a.BucketName, a.GroupID, a.ArtifactID)
		})
}

func listBundleVersionsCmd() *cobra.Command {
	var k coordFlags
	return listCmd("list-bundle-versions", "List the versions of a bundle artifact in a bucket", "#\tBUCKET\tGROUP\tARTIFACT\tVERSION",
		func(cmd *cobra.Command) { k.register(cmd, "group", "artifact") },
		func(ctx context.Context, c *client.Client) ([]model.ExtensionRepoVersionSummary, error) {
			return c.RepoVersions(ctx, k.bucketName, k.group, k.artifact)
		},
		func(i int, v model.ExtensionRepoVersionSummary) string {
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%s", i+1, v.BucketName, v.GroupID, v.ArtifactID, v.Version)
		})
}

func downloadBundleCmd() *cobra.Command {
	var f registryFlags
	var k coordFlags
	var output, dir string
	cmd := newRegCmd("download-bundle", "Download a bundle version's content to a file or directory and print the path", &f)
	k.register(cmd, "group", "artifact", "version")
	cmd.Flags().StringVarP(&output, "output", "o", "", "the file to write")
	cmd.Flags().StringVar(&dir, "output-dir", "", "the directory to write to, under the registry's file name")
	cmd.MarkFlagsOneRequired("output", "output-dir")
	cmd.MarkFlagsMutuallyExclusive("output", "output-dir")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		rc, name, err := c.RepoBundleContent(ctx, k.bucketName, k.group, k.artifact, k.version)
		if err != nil {
			return err
		}
		defer rc.Close()
		path := output
		if path == "" {
			// Only the base of the server's name: a name with a path in
			// it must not place the file outside dir.
			name = filepath.Base(name)
			if name == "." || name == "/" || name == "" || name == ".." {
				name = k.artifact + "-" + k.version + ".nar"
			}
			path = filepath.Join(dir, name)
		}
		if err := writeFileFrom(path, rc); err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, path)
		return err
	})
	return cmd
}

// writeFileFrom writes r to path through a temporary file beside it, so
// that a cut-off download never leaves a short bundle under the name.
func writeFileFrom(path string, r io.Reader) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func getBundleChecksumCmd() *cobra.Command {
	var f registryFlags
	var k coordFlags
	cmd := newRegCmd("get-bundle-checksum", "Print the SHA-256 of a bundle version's content", &f)
	k.register(cmd, "group", "artifact", "version")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		sum, err := c.RepoSHA256(ctx, k.bucketName, k.group, k.artifact, k.version)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(out, sum)
		}
		_, err = fmt.Fprintln(out, sum)
		return err
	})
	return cmd
}

func listExtensionsCmd() *cobra.Command {
	var f registryFlags
	var tags, extType, bundleType string
	cmd := newRegCmd("list-extensions", "List extensions, optionally those with any of some tags or of a type", &f)
	cmd.Flags().StringVar(&tags, "tags", "", "comma-separated tags: extensions with any of them")
	cmd.Flags().StringVar(&extType, "extension-type", "", "PROCESSOR, CONTROLLER_SERVICE, REPORTING_TASK, …")
	// The toolkit leaves the bundle type out only because of a bug in
	// NiFi's client; the API has the filter.
	cmd.Flags().StringVar(&bundleType, "bundle-type", "", "nifi-nar or minifi-cpp")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		flt := client.ExtensionFilter{BundleType: bundleType, ExtensionType: extType}
		for _, t := range strings.Split(tags, ",") {
			if t = strings.TrimSpace(t); t != "" {
				flt.Tags = append(flt.Tags, t)
			}
		}
		res, err := c.Extensions(ctx, flt)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(out, res)
		}
		return table(out, "#\tNAME\tTYPE\tBUCKET\tGROUP\tARTIFACT\tVERSION", func(tw io.Writer) {
			for i, e := range res.Extensions {
				bi := e.BundleInfo
				if bi == nil {
					bi = &model.BundleInfo{}
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, e.Name, e.Type, bi.BucketName, bi.GroupID, bi.ArtifactID, bi.Version)
			}
		})
	})
	return cmd
}

func listExtensionTagsCmd() *cobra.Command {
	return listCmd("list-extension-tags", "List the extension tags with how many extensions carry each", "TAG\tCOUNT", nil,
		func(ctx context.Context, c *client.Client) ([]model.TagCount, error) { return c.ExtensionTags(ctx) },
		func(_ int, t model.TagCount) string { return fmt.Sprintf("%s\t%d", str(t.Tag), t.Count) })
}
