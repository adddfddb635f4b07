package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/model"

	"github.com/spf13/cobra"
)

func listFlowVersionsCmd() *cobra.Command {
	var flow string
	return listCmd("list-flow-versions", "List the versions of a flow, newest first", "VERSION\tDATE\tAUTHOR\tCOMMENTS",
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&flow, "flow", "", "the flow's id (required)")
			_ = cmd.MarkFlagRequired("flow")
		},
		func(ctx context.Context, c *client.Client) ([]model.SnapshotMetadata, error) {
			return c.FlowVersions(ctx, flow)
		},
		func(_ int, v model.SnapshotMetadata) string {
			when := time.UnixMilli(v.Timestamp).UTC().Format(time.RFC3339)
			return fmt.Sprintf("%d\t%s\t%s\t%s", v.Version, when, str(v.Author), str(v.Comments))
		})
}

// exportFlowVersionCmd writes a version as the toolkit's
// export-flow-version does: the versioned flow snapshot without the
// bucket, the flow and the metadata's ids and link, so that it can be
// imported into any flow.
func exportFlowVersionCmd() *cobra.Command {
	var f registryFlags
	var flow, output string
	var version int
	cmd := newRegCmd("export-flow-version", "Write a version of a flow as a flow snapshot (JSON) to --output or standard output", &f)
	cmd.Flags().StringVar(&flow, "flow", "", "the flow's id (required)")
	cmd.Flags().IntVar(&version, "version", 0, "the version to export (default: the latest)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write (default: standard output)")
	_ = cmd.MarkFlagRequired("flow")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		b, err := c.FlowVersion(ctx, flow, version)
		if err != nil {
			return err
		}
		s, err := client.DecodeSnapshot(b)
		if err != nil {
			return fmt.Errorf("the registry's snapshot: %w", err)
		}
		s.Bucket, s.Flow = nil, nil
		if md := s.SnapshotMetadata; md != nil {
			md.BucketIdentifier, md.FlowIdentifier, md.Link = nil, nil, nil
		}
		if output == "" {
			return printJSON(out, s)
		}
		fh, err := os.Create(output)
		if err != nil {
			return err
		}
		if err := printJSON(fh, s); err != nil {
			fh.Close()
			return err
		}
		return fh.Close()
	})
	return cmd
}

func importFlowVersionCmd() *cobra.Command {
	var f registryFlags
	var flow, input string
	cmd := newRegCmd("import-flow-version", "Commit a flow snapshot file (from export-flow-version) as the flow's next version; prints the version", &f)
	cmd.Flags().StringVar(&flow, "flow", "", "the flow's id (required)")
	cmd.Flags().StringVarP(&input, "input", "i", "", "the snapshot file (required)")
	_ = cmd.MarkFlagRequired("flow")
	_ = cmd.MarkFlagRequired("input")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		b, err := os.ReadFile(input)
		if err != nil {
			return err
		}
		s, err := client.DecodeSnapshot(b)
		if err != nil || len(s.FlowContents) == 0 {
			return fmt.Errorf("%s is not a flow snapshot (no flowContents): %v", input, err)
		}
		return commitCopy(ctx, c, out, f.json, flow, s, 0)
	})
	return cmd
}

// commitCopy commits the contents of s to flow as version (0: the one
// after the latest, as the toolkit counts it), keeping s's comments, and
// prints the version made.
func commitCopy(ctx context.Context, c *client.Client, out io.Writer, asJSON bool, flow string, s *model.Snapshot, version int32) error {
	fl, err := c.Flow(ctx, flow)
	if err != nil {
		return err
	}
	bucket := str(fl.BucketIdentifier)
	if version == 0 {
		version = 1
		md, err := c.LatestMetadata(ctx, bucket, flow)
		switch {
		case err == nil:
			version = md.Version + 1
		case client.StatusOf(err) != 404: // 404: no version yet
			return err
		}
	}
	var comments *string
	if s.SnapshotMetadata != nil {
		comments = s.SnapshotMetadata.Comments
	}
	next := model.Snapshot{
		SnapshotMetadata:           &model.SnapshotMetadata{BucketIdentifier: &bucket, FlowIdentifier: &flow, Version: version, Comments: comments},
		FlowContents:               s.FlowContents,
		ExternalControllerServices: s.ExternalControllerServices,
		ParameterContexts:          s.ParameterContexts,
		ParameterProviders:         s.ParameterProviders,
		FlowEncodingVersion:        s.FlowEncodingVersion,
	}
	body, err := json.Marshal(next)
	if err != nil {
		return err
	}
	b, err := c.CommitVersion(ctx, bucket, flow, body, false)
	if err != nil {
		return err
	}
	if asJSON {
		_, err := out.Write(append(b, '\n'))
		return err
	}
	made, err := client.DecodeSnapshot(b)
	if err != nil || made.SnapshotMetadata == nil {
		return fmt.Errorf("the registry's answer: %v", err)
	}
	fmt.Fprintln(out, made.SnapshotMetadata.Version)
	return nil
}

// copyFlags name the flow versions are copied from (in the registry of
// --src-server, or of --server when empty; the same credentials either
// way) and the flow they are copied to.
type copyFlags struct {
	f       registryFlags
	server  string
	flow    string
	version int
	dst     string
}

// copyCmd builds transfer-flow-version and sync-flow-versions: run gets
// clients of the source and the destination registry.
func copyCmd(use, short string, withVersion bool, run func(ctx context.Context, cf *copyFlags, src, dst *client.Client, out io.Writer) error) *cobra.Command {
	cf := &copyFlags{}
	cmd := newRegCmd(use, short, &cf.f)
	cmd.Flags().StringVar(&cf.server, "src-server", "", "base URL of the source registry (default: --server); the same TLS and token flags are used")
	cmd.Flags().StringVar(&cf.flow, "src-flow", "", "the source flow's id (required)")
	if withVersion {
		cmd.Flags().IntVar(&cf.version, "src-version", 0, "the source version (default: the latest)")
	}
	cmd.Flags().StringVar(&cf.dst, "flow", "", "the destination flow's id (required)")
	_ = cmd.MarkFlagRequired("src-flow")
	_ = cmd.MarkFlagRequired("flow")
	cmd.RunE = regRun(&cf.f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		src := c
		if cf.server != "" {
			var err error
			if src, err = cf.f.client(cf.server); err != nil {
				return err
			}
		}
		return run(ctx, cf, src, c, out)
	})
	return cmd
}

// snapshot reads version v (0: the latest) of the source flow.
func (cf *copyFlags) snapshot(ctx context.Context, src *client.Client, v int) (*model.Snapshot, error) {
	b, err := src.FlowVersion(ctx, cf.flow, v)
	if err != nil {
		return nil, fmt.Errorf("source version %d: %w", v, apiError(err))
	}
	return client.DecodeSnapshot(b)
}

func transferFlowVersionCmd() *cobra.Command {
	return copyCmd("transfer-flow-version", "Copy one version of a flow (possibly of another registry) as the next version of a flow; prints the version", true,
		func(ctx context.Context, cf *copyFlags, src, dst *client.Client, out io.Writer) error {
			s, err := cf.snapshot(ctx, src, cf.version)
			if err != nil {
				return err
			}
			return commitCopy(ctx, dst, out, cf.f.json, cf.dst, s, 0)
		})
}

// syncFlowVersionsCmd copies every version of the source flow the
// destination lacks, with its number and comments, oldest first, as the
// toolkit's sync-flow-versions keeps two flows' histories alike.
func syncFlowVersionsCmd() *cobra.Command {
	return copyCmd("sync-flow-versions", "Copy the versions of a flow (possibly of another registry) that another flow lacks, keeping their numbers", false,
		func(ctx context.Context, cf *copyFlags, src, dst *client.Client, out io.Writer) error {
			sv, err := src.FlowVersions(ctx, cf.flow)
			if err != nil {
				return fmt.Errorf("source: %w", apiError(err))
			}
			dv, err := dst.FlowVersions(ctx, cf.dst)
			if err != nil {
				return err
			}
			if len(dv) > len(sv) {
				return fmt.Errorf("the destination flow has more versions (%d) than the source (%d)", len(dv), len(sv))
			}
			have := map[int32]bool{}
			for _, v := range dv {
				have[v.Version] = true
			}
			var missing []int32
			for _, v := range sv {
				if !have[v.Version] {
					missing = append(missing, v.Version)
				}
			}
			slices.Sort(missing)
			for _, v := range missing {
				s, err := cf.snapshot(ctx, src, int(v))
				if err != nil {
					return err
				}
				if err := commitCopy(ctx, dst, io.Discard, false, cf.dst, s, v); err != nil {
					return fmt.Errorf("version %d: %w", v, apiError(err))
				}
			}
			if len(missing) == 0 {
				fmt.Fprintln(out, "already in sync")
			} else {
				fmt.Fprintf(out, "copied %d versions\n", len(missing))
			}
			return nil
		})
}

// flowDiff is the part of NiFi's VersionedFlowDifference the table shows.
type flowDiff struct {
	ComponentDifferenceGroups []struct {
		ComponentID   string `json:"componentId"`
		ComponentName string `json:"componentName"`
		ComponentType string `json:"componentType"`
		Differences   []struct {
			DifferenceType string `json:"differenceType"`
			Difference     string `json:"difference"`
		} `json:"differences"`
	} `json:"componentDifferenceGroups"`
}

func diffFlowVersionsCmd() *cobra.Command {
	var f registryFlags
	var flow string
	var v1, v2 int
	cmd := newRegCmd("diff-flow-versions", "Show the differences between two versions of a flow", &f)
	cmd.Flags().StringVar(&flow, "flow", "", "the flow's id (required)")
	cmd.Flags().IntVar(&v1, "version1", 0, "the first version (required)")
	cmd.Flags().IntVar(&v2, "version2", 0, "the second version (required)")
	for _, n := range []string{"flow", "version1", "version2"} {
		_ = cmd.MarkFlagRequired(n)
	}
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		fl, err := c.Flow(ctx, flow)
		if err != nil {
			return err
		}
		b, err := c.Diff(ctx, str(fl.BucketIdentifier), flow, v1, v2)
		if err != nil {
			return err
		}
		if f.json {
			_, err := out.Write(append(b, '\n'))
			return err
		}
		var d flowDiff
		if err := json.Unmarshal(b, &d); err != nil {
			return err
		}
		return table(out, "COMPONENT\tTYPE\tID\tDIFFERENCE\tDESCRIPTION", func(tw io.Writer) {
			for _, g := range d.ComponentDifferenceGroups {
				for _, x := range g.Differences {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.ComponentName, g.ComponentType, g.ComponentID, x.DifferenceType, x.Difference)
				}
			}
		})
	})
	return cmd
}
