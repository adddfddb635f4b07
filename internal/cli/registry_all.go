package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/model"
)

// exportAllPrefix starts the names of the toolkit's export-all-flows files:
// toolkit_registry_export_all_<bucket>_<flow>_<version>, "_" in names
// written "-" (and "/" in flow names), so that import-all-flows can split
// them (VersionedFlowSnapshotsResult, ImportAllFlows.VersionFileMetaData).
const exportAllPrefix = "toolkit_registry_export_all_"

func exportFileName(bucket, flow string, version int32) string {
	bucket = strings.ReplaceAll(bucket, "_", "-")
	flow = strings.ReplaceAll(strings.ReplaceAll(flow, "_", "-"), "/", "-")
	return exportAllPrefix + bucket + "_" + flow + "_" + strconv.Itoa(int(version))
}

// exportAllFlowsCmd writes every version of every flow the caller can
// read as the toolkit's export-all-flows does: one file per version, the
// exported snapshot with the bucket's and the flow's id, name and
// description, which import-all-flows needs to recreate them.
func exportAllFlowsCmd() *cobra.Command {
	var f registryFlags
	var dir string
	cmd := newRegCmd("export-all-flows", "Write every version of every flow to a directory, in the toolkit's export-all-flows format", &f)
	cmd.Flags().StringVarP(&dir, "output-dir", "o", "", "the directory to write to (required)")
	_ = cmd.MarkFlagRequired("output-dir")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		buckets, err := c.Buckets(ctx)
		if err != nil {
			return err
		}
		n := 0
		for _, b := range buckets {
			flows, err := c.Flows(ctx, str(b.Identifier))
			if err != nil {
				return err
			}
			for _, fl := range flows {
				vs, err := c.FlowVersions(ctx, str(fl.Identifier))
				if err != nil {
					return err
				}
				for _, v := range vs {
					raw, err := c.FlowVersion(ctx, str(fl.Identifier), int(v.Version))
					if err != nil {
						return err
					}
					s, err := client.DecodeSnapshot(raw)
					if err != nil {
						return err
					}
					if md := s.SnapshotMetadata; md != nil {
						md.BucketIdentifier, md.FlowIdentifier, md.Link = nil, nil, nil
					}
					s.Bucket = &model.Bucket{Identifier: b.Identifier, Name: b.Name, Description: b.Description}
					s.Flow = &model.VersionedFlow{Identifier: fl.Identifier, Name: fl.Name, Description: fl.Description, Type: "Flow"}
					var buf bytes.Buffer
					if err := printJSON(&buf, s); err != nil {
						return err
					}
					if err := os.WriteFile(filepath.Join(dir, exportFileName(str(b.Name), str(fl.Name), v.Version)), buf.Bytes(), 0o644); err != nil {
						return err
					}
					n++
				}
			}
		}
		fmt.Fprintf(out, "exported %d versions to %s\n", n, dir)
		return nil
	})
	return cmd
}

// exportedVersion is one file of an export-all-flows directory.
type exportedVersion struct {
	path, bucket, flow string
	version            int
}

// exportedVersions lists dir's export files in the order the toolkit
// imports them: by bucket name, flow name, then version.
func exportedVersions(dir string) ([]exportedVersion, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []exportedVersion
	for _, e := range entries {
		parts := strings.Split(e.Name(), "_")
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), exportAllPrefix) || len(parts) != 7 {
			continue
		}
		v, err := strconv.Atoi(parts[6])
		if err != nil {
			return nil, fmt.Errorf("%s: the version is not a number", e.Name())
		}
		out = append(out, exportedVersion{path: filepath.Join(dir, e.Name()), bucket: parts[4], flow: parts[5], version: v})
	}
	slices.SortFunc(out, func(a, b exportedVersion) int {
		if c := strings.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		if c := strings.Compare(a.flow, b.flow); c != 0 {
			return c
		}
		return a.version - b.version
	})
	return out, nil
}

// importAllFlowsCmd reads an export-all-flows directory as the toolkit's
// import-all-flows does: a bucket missing by name is created with its
// original id, a flow missing by name in its bucket with its original
// id (NiFi's versioned process groups refer to them), and each version
// the flow lacks is committed with its author and time kept, its nested
// versioned groups pointed at this registry (relocate). Unlike the
// toolkit, a bucket found by name is used with its own id.
func importAllFlowsCmd() *cobra.Command {
	var f registryFlags
	var dir string
	var skip bool
	cmd := newRegCmd("import-all-flows", "Create the buckets, flows and versions of an export-all-flows directory that the registry lacks", &f)
	cmd.Flags().StringVarP(&dir, "input", "i", "", "the directory export-all-flows wrote (required)")
	cmd.Flags().BoolVar(&skip, "skip-existing", false, "leave flows that exist already untouched (default: add the versions they lack)")
	_ = cmd.MarkFlagRequired("input")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		files, err := exportedVersions(dir)
		if err != nil {
			return err
		}
		buckets, err := c.Buckets(ctx)
		if err != nil {
			return err
		}
		bucketIDs := index(buckets, func(b model.Bucket) (string, string) { return str(b.Name), str(b.Identifier) })
		type flowKey struct{ bucket, name string }
		flowIDs := map[flowKey]string{}
		existed := map[string]bool{}
		have := map[string]map[int32]bool{}
		imported := 0
		for _, file := range files {
			b, err := os.ReadFile(file.path)
			if err != nil {
				return err
			}
			s, err := client.DecodeSnapshot(b)
			if err != nil || s.Bucket == nil || s.Flow == nil || s.SnapshotMetadata == nil {
				return fmt.Errorf("%s: not an export-all-flows file (a snapshot with bucket and flow): %v", file.path, err)
			}
			bucketName, flowName := str(s.Bucket.Name), str(s.Flow.Name)
			bucketID, ok := bucketIDs[bucketName]
			if !ok {
				made, err := c.CreateBucket(ctx, model.Bucket{Identifier: s.Bucket.Identifier, Name: s.Bucket.Name, Description: s.Bucket.Description}, true)
				if err != nil {
					return fmt.Errorf("bucket %q: %w", bucketName, err)
				}
				bucketID = str(made.Identifier)
				bucketIDs[bucketName] = bucketID
				flowIDs[flowKey{bucketID, ""}] = "" // a new bucket holds no flows
			}
			if _, listed := flowIDs[flowKey{bucketID, ""}]; !listed {
				flows, err := c.Flows(ctx, bucketID)
				if err != nil {
					return err
				}
				for _, fl := range flows {
					flowIDs[flowKey{bucketID, str(fl.Name)}] = str(fl.Identifier)
					existed[str(fl.Identifier)] = true
				}
				flowIDs[flowKey{bucketID, ""}] = ""
			}
			flowID, ok := flowIDs[flowKey{bucketID, flowName}]
			if !ok {
				made, err := c.CreateFlow(ctx, bucketID, model.VersionedFlow{Identifier: s.Flow.Identifier, Name: s.Flow.Name, Description: s.Flow.Description, Type: "Flow"})
				if err != nil {
					return fmt.Errorf("flow %q: %w", flowName, err)
				}
				flowID = str(made.Identifier)
				flowIDs[flowKey{bucketID, flowName}] = flowID
			}
			if skip && existed[flowID] {
				continue
			}
			if have[flowID] == nil {
				have[flowID] = map[int32]bool{}
				vs, err := c.Versions(ctx, bucketID, flowID)
				if err != nil {
					return err
				}
				for _, v := range vs {
					have[flowID][v.Version] = true
				}
			}
			if have[flowID][s.SnapshotMetadata.Version] {
				continue
			}
			next := int32(len(have[flowID]) + 1)
			if s.FlowContents, err = relocate(s.FlowContents, strings.TrimRight(withScheme(f.server), "/")); err != nil {
				return fmt.Errorf("%s: %w", file.path, err)
			}
			s.Bucket, s.Flow = nil, nil
			md := *s.SnapshotMetadata
			md.BucketIdentifier, md.FlowIdentifier, md.Version, md.Link = &bucketID, &flowID, next, nil
			s.SnapshotMetadata = &md
			body, err := json.Marshal(s)
			if err != nil {
				return err
			}
			if _, err := c.CommitVersion(ctx, bucketID, flowID, body, true); err != nil {
				return fmt.Errorf("%s: %w", filepath.Base(file.path), err)
			}
			have[flowID][next] = true
			imported++
		}
		fmt.Fprintf(out, "imported %d versions\n", imported)
		return nil
	})
	return cmd
}

// relocate points the nested versioned process groups of flowContents at
// registryURL, as the toolkit's import-all-flows does
// (updateStorageLocation): a group whose versionedFlowCoordinates'
// storageLocation does not start with registryURL gets
// <registryURL>/nifi-registry-api/buckets/<bucket>/flows/<flow>/versions/<version>.
// The contents are returned unchanged (the same bytes) when no group needs it.
func relocate(flowContents json.RawMessage, registryURL string) (json.RawMessage, error) {
	if len(flowContents) == 0 {
		return flowContents, nil
	}
	d := json.NewDecoder(bytes.NewReader(flowContents))
	d.UseNumber() // numbers keep their text
	var root any
	if err := d.Decode(&root); err != nil {
		return nil, err
	}
	changed := false
	var walk func(g any)
	walk = func(g any) {
		m, ok := g.(map[string]any)
		if !ok {
			return
		}
		if c, ok := m["versionedFlowCoordinates"].(map[string]any); ok {
			loc, _ := c["storageLocation"].(string)
			if !strings.HasPrefix(loc, registryURL) {
				c["storageLocation"] = fmt.Sprintf("%s/nifi-registry-api/buckets/%v/flows/%v/versions/%v", registryURL, c["bucketId"], c["flowId"], c["version"])
				changed = true
			}
		}
		if groups, ok := m["processGroups"].([]any); ok {
			for _, sub := range groups {
				walk(sub)
			}
		}
	}
	walk(root)
	if !changed {
		return flowContents, nil
	}
	return json.Marshal(root)
}
