package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/identity"
	"github.com/weir-nifi/weir/internal/model"
)

// registryCmd is `weir registry …`: the NiFi Toolkit CLI's registry
// commands, under the same names. They send only NiFi Registry API
// requests (/nifi-registry-api), so they work against NiFi Registry as
// well as Weir.
func registryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "NiFi Toolkit's registry commands: buckets, flows, versions, bundles, extensions, users, groups and policies",
		Long: `The NiFi Toolkit CLI's registry commands, against NiFi Registry or Weir (only
the NiFi Registry API is used). Output is a table; --json prints the API's JSON.
Secured servers: --tls-cert/--tls-key name the caller by certificate,
--bearer-token sends a token from /access/token, --proxied-entity acts for a
user as a NiFi node proxying it does (the certificate must be a proxy's).
The toolkit's option names work too (-u/--baseUrl, --bucketIdentifier,
--flowIdentifier, --flowVersion, --userNameList, --extensionBundleFile, …).`,
	}
	cmd.AddCommand(currentUserCmd(), getAccessTokenCmd(), logoutAccessTokenCmd(),
		listBucketsCmd(), createBucketCmd(), deleteBucketCmd(), updateBucketPolicyCmd(),
		listFlowsCmd(), createFlowCmd(), deleteFlowCmd(),
		listFlowVersionsCmd(), exportFlowVersionCmd(), importFlowVersionCmd(),
		syncFlowVersionsCmd(), transferFlowVersionCmd(), diffFlowVersionsCmd(),
		listUsersCmd(), createUserCmd(), updateUserCmd(),
		listUserGroupsCmd(), createUserGroupCmd(), updateUserGroupCmd(),
		getPolicyCmd(), createOrUpdatePolicyCmd(), exportAllFlowsCmd(), importAllFlowsCmd())
	cmd.AddCommand(bundleCmds()...)
	return cmd
}

// registryFlags are every registry command's connection settings.
type registryFlags struct {
	server  string
	json    bool
	timeout time.Duration
	tls     tlsFlags
	token   string
	proxied string
}

func (f *registryFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.server, "server", "u", "http://127.0.0.1:18080", "base URL of the registry (NiFi Registry or any Weir node)")
	fl.BoolVar(&f.json, "json", false, "print the API's JSON")
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "timeout of each request")
	fl.StringVar(&f.token, "bearer-token", "", "access token (from /access/token) sent as Authorization: Bearer")
	fl.StringVar(&f.proxied, "proxied-entity", "", "act for this user identity (X-ProxiedEntitiesChain); the caller must be allowed to proxy")
	f.tls.register(cmd)
}

// client returns an API client for server (the flags' TLS, token and
// proxied entity).
func (f *registryFlags) client(server string) (*client.Client, error) {
	hc, err := f.tls.client()
	if err != nil {
		return nil, err
	}
	c := client.New(withScheme(server))
	// A copy: tlsFlags may hand out http.DefaultClient, shared by the process.
	c.HTTP = &http.Client{Transport: hc.Transport, Timeout: f.timeout}
	c.Header = http.Header{}
	if f.token != "" {
		c.Header.Set("Authorization", "Bearer "+f.token)
	}
	if f.proxied != "" {
		c.Header.Set(identity.HeaderProxiedEntitiesChain, identity.FormatChain([]string{f.proxied}))
	}
	return c, nil
}

// regRun wraps a registry command's work: the client for --server and
// NiFi's status and message in errors.
func regRun(f *registryFlags, run func(ctx context.Context, c *client.Client, out io.Writer) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		c, err := f.client(f.server)
		if err != nil {
			return err
		}
		return apiError(run(cmd.Context(), c, cmd.OutOrStdout()))
	}
}

func apiError(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) {
		return fmt.Errorf("%d %s: %s", ce.Status, http.StatusText(ce.Status), strings.TrimSpace(ce.Message))
	}
	return err
}

// newRegCmd builds a registry command without positional arguments;
// required names flags that must be given.
func newRegCmd(use, short string, f *registryFlags) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	cmd.Flags().SetNormalizeFunc(toolkitNames(use))
	f.register(cmd)
	return cmd
}

// toolkitOptions are the NiFi Toolkit's option names (CommandOption) for
// weir's flags, so that a toolkit command line works as it is:
// `weir registry list-flows --baseUrl URL --bucketIdentifier ID`.
var toolkitOptions = map[string]string{
	"baseUrl": "server", "bucketIdentifier": "bucket", "flowIdentifier": "flow", "flowVersion": "version",
	"outputFile": "output", "outputDirectory": "output-dir", "sourceFlowIdentifier": "src-flow",
	"sourceFlowVersion": "src-version", "flowVersion1": "version1", "flowVersion2": "version2",
	"userIdentifier": "user", "userGroupId": "group", "userNameList": "user-names", "userIdList": "user-ids",
	"groupNameList": "group-names", "groupIdList": "group-ids", "accessPolicyResource": "resource",
	"accessPolicyAction": "action", "proxiedEntity": "proxied-entity", "bearerToken": "bearer-token",
	"skipExisting": "skip-existing", "bucketName": "name", "bucketDesc": "description", "flowName": "name",
	"flowDesc": "description", "userName": "name", "userGroupName": "name",
	"extensionBundleType": "bundle-type", "extensionBundleFile": "file", "extensionBundleDir": "dir",
	"skipSha256": "skip-sha256", "fileExtension": "file-extension", "extensionType": "extension-type",
}

// bundleByName are the commands that address bundles by bucket name.
var bundleByName = map[string]bool{"list-bundle-groups": true, "list-bundle-artifacts": true,
	"list-bundle-versions": true, "download-bundle": true, "get-bundle-checksum": true}

// toolkitNames maps the toolkit's option names of command use to weir's
// flags (bucketName names the bucket to change in update-bucket-policy
// and the bucket the bundle commands look in, not a new bucket's name).
func toolkitNames(use string) func(*pflag.FlagSet, string) pflag.NormalizedName {
	return func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "bucketName" && (use == "update-bucket-policy" || bundleByName[use]) {
			return "bucket-name"
		}
		if to, ok := toolkitOptions[name]; ok {
			return pflag.NormalizedName(to)
		}
		return pflag.NormalizedName(name)
	}
}

// listCmd builds a command that lists what fetch returns: the API's
// JSON with --json, else a table of header and one row per item.
func listCmd[T any](use, short, header string, flags func(*cobra.Command), fetch func(context.Context, *client.Client) ([]T, error), row func(int, T) string) *cobra.Command {
	var f registryFlags
	cmd := newRegCmd(use, short, &f)
	if flags != nil {
		flags(cmd)
	}
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		items, err := fetch(ctx, c)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(out, items)
		}
		return table(out, header, func(tw io.Writer) {
			for i, it := range items {
				fmt.Fprintln(tw, row(i, it))
			}
		})
	})
	return cmd
}

// printMade prints what a create or update answered: its JSON with
// --json, else its id (what the toolkit prints, for scripts).
func printMade(out io.Writer, asJSON bool, v any, id *string) error {
	if asJSON {
		return printJSON(out, v)
	}
	_, err := fmt.Fprintln(out, str(id))
	return err
}

func table(w io.Writer, header string, rows func(tw io.Writer)) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	rows(tw)
	return tw.Flush()
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func currentUserCmd() *cobra.Command {
	var f registryFlags
	cmd := newRegCmd("current-user", "Show who the registry takes the caller for", &f)
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		u, err := c.CurrentUser(ctx)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(out, u)
		}
		fmt.Fprintln(out, u.Identity)
		return nil
	})
	return cmd
}

func listBucketsCmd() *cobra.Command {
	return listCmd("list-buckets", "List the buckets the caller may read", "#\tNAME\tID\tDESCRIPTION", nil,
		func(ctx context.Context, c *client.Client) ([]model.Bucket, error) { return c.Buckets(ctx) },
		func(i int, b model.Bucket) string {
			return fmt.Sprintf("%d\t%s\t%s\t%s", i+1, str(b.Name), str(b.Identifier), str(b.Description))
		})
}

func createBucketCmd() *cobra.Command {
	var f registryFlags
	var name, desc string
	var public bool
	cmd := newRegCmd("create-bucket", "Create a bucket and print its id", &f)
	cmd.Flags().StringVar(&name, "name", "", "the bucket's name (required)")
	cmd.Flags().StringVar(&desc, "description", "", "the bucket's description")
	cmd.Flags().BoolVar(&public, "public-read", false, "let anonymous callers read the bucket")
	_ = cmd.MarkFlagRequired("name")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		b := model.Bucket{Name: &name, Revision: &model.RevisionInfo{Version: new(int64)}}
		if desc != "" {
			b.Description = &desc
		}
		if public {
			b.AllowPublicRead = &public
		}
		made, err := c.CreateBucket(ctx, b, false)
		if err != nil {
			return err
		}
		return printMade(out, f.json, made, made.Identifier)
	})
	return cmd
}

func deleteBucketCmd() *cobra.Command {
	var f registryFlags
	var id string
	var force bool
	cmd := newRegCmd("delete-bucket", "Delete a bucket (one holding flows needs --force)", &f)
	cmd.Flags().StringVar(&id, "bucket", "", "the bucket's id (required)")
	cmd.Flags().BoolVar(&force, "force", false, "delete the bucket with its flows")
	_ = cmd.MarkFlagRequired("bucket")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		b, err := c.Bucket(ctx, id)
		if err != nil {
			return err
		}
		if !force {
			flows, err := c.Flows(ctx, id)
			if err != nil {
				return err
			}
			if len(flows) > 0 {
				return fmt.Errorf("bucket %s holds %d flows: use --force to delete it with them", id, len(flows))
			}
		}
		return c.DeleteBucketAt(ctx, b)
	})
	return cmd
}

func listFlowsCmd() *cobra.Command {
	var bucket string
	return listCmd("list-flows", "List the flows of a bucket", "#\tNAME\tID\tVERSIONS\tDESCRIPTION",
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&bucket, "bucket", "", "the bucket's id (required)")
			_ = cmd.MarkFlagRequired("bucket")
		},
		func(ctx context.Context, c *client.Client) ([]model.VersionedFlow, error) {
			return c.Flows(ctx, bucket)
		},
		func(i int, fl model.VersionedFlow) string {
			return fmt.Sprintf("%d\t%s\t%s\t%d\t%s", i+1, str(fl.Name), str(fl.Identifier), fl.VersionCount, str(fl.Description))
		})
}

func createFlowCmd() *cobra.Command {
	var f registryFlags
	var bucket, name, desc string
	cmd := newRegCmd("create-flow", "Create a flow (without versions) in a bucket and print its id", &f)
	cmd.Flags().StringVar(&bucket, "bucket", "", "the bucket's id (required)")
	cmd.Flags().StringVar(&name, "name", "", "the flow's name (required)")
	cmd.Flags().StringVar(&desc, "description", "", "the flow's description")
	_ = cmd.MarkFlagRequired("bucket")
	_ = cmd.MarkFlagRequired("name")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		fl := model.VersionedFlow{Name: &name, Type: "Flow", Revision: &model.RevisionInfo{Version: new(int64)}}
		if desc != "" {
			fl.Description = &desc
		}
		made, err := c.CreateFlow(ctx, bucket, fl)
		if err != nil {
			return err
		}
		return printMade(out, f.json, made, made.Identifier)
	})
	return cmd
}

func deleteFlowCmd() *cobra.Command {
	var f registryFlags
	var id string
	var force bool
	cmd := newRegCmd("delete-flow", "Delete a flow (one with versions needs --force)", &f)
	cmd.Flags().StringVar(&id, "flow", "", "the flow's id (required)")
	cmd.Flags().BoolVar(&force, "force", false, "delete the flow with its versions")
	_ = cmd.MarkFlagRequired("flow")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		fl, err := c.Flow(ctx, id)
		if err != nil {
			return err
		}
		if fl.VersionCount > 0 && !force {
			return fmt.Errorf("flow %s has %d versions: use --force to delete it with them", id, fl.VersionCount)
		}
		return c.DeleteFlowAt(ctx, fl)
	})
	return cmd
}
