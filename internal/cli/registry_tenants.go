package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/model"
)

// The users, groups and policies commands need a secured registry whose
// authorizer is managed (NiFi's managed-authorizer; Weir with
// --initial-admin-identity); other registries refuse them with 409.

func listUsersCmd() *cobra.Command {
	return listCmd("list-users", "List the users", "#\tIDENTITY\tID\tGROUPS", nil,
		func(ctx context.Context, c *client.Client) ([]model.User, error) { return c.Users(ctx) },
		func(i int, u model.User) string {
			return fmt.Sprintf("%d\t%s\t%s\t%s", i+1, str(u.Identity), str(u.Identifier), tenantNames(u.UserGroups))
		})
}

func tenantNames(ts []model.Tenant) string {
	names := make([]string, 0, len(ts))
	for _, t := range ts {
		names = append(names, str(t.Identity))
	}
	return strings.Join(names, ",")
}

func createUserCmd() *cobra.Command {
	var f registryFlags
	var name string
	cmd := newRegCmd("create-user", "Create a user and print its id", &f)
	cmd.Flags().StringVar(&name, "name", "", "the user's identity (required)")
	_ = cmd.MarkFlagRequired("name")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		u, err := c.CreateUser(ctx, name)
		if err != nil {
			return err
		}
		return printMade(out, f.json, u, u.Identifier)
	})
	return cmd
}

func updateUserCmd() *cobra.Command {
	var f registryFlags
	var id, name string
	cmd := newRegCmd("update-user", "Change a user's identity", &f)
	cmd.Flags().StringVar(&id, "user", "", "the user's id (required)")
	cmd.Flags().StringVar(&name, "name", "", "the new identity (required)")
	_ = cmd.MarkFlagRequired("user")
	_ = cmd.MarkFlagRequired("name")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		u, err := c.User(ctx, id)
		if err != nil {
			return err
		}
		u.Identity = &name
		if u, err = c.UpdateUser(ctx, u); err != nil {
			return err
		}
		return printMade(out, f.json, u, u.Identifier)
	})
	return cmd
}

func listUserGroupsCmd() *cobra.Command {
	return listCmd("list-user-groups", "List the user groups with their members", "#\tNAME\tID\tMEMBERS", nil,
		func(ctx context.Context, c *client.Client) ([]model.UserGroup, error) { return c.UserGroups(ctx) },
		func(i int, g model.UserGroup) string {
			return fmt.Sprintf("%d\t%s\t%s\t%s", i+1, str(g.Identity), str(g.Identifier), tenantNames(g.Users))
		})
}

// members are tenants named by identity or by id on the command line.
type members struct{ names, ids []string }

func (m *members) register(cmd *cobra.Command, kind string) {
	cmd.Flags().StringSliceVar(&m.names, kind+"-names", nil, kind+" identities, comma-separated")
	cmd.Flags().StringSliceVar(&m.ids, kind+"-ids", nil, kind+" ids, comma-separated")
}

func (m *members) given() bool { return m.names != nil || m.ids != nil }

// resolve turns the names into ids among known (identity → id); an
// unknown name is an error, as in the toolkit.
func (m *members) resolve(kind string, known map[string]string) ([]model.Tenant, error) {
	out := []model.Tenant{}
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			out = append(out, model.Tenant{Identifier: &id})
		}
	}
	for _, n := range m.names {
		id, ok := known[n]
		if !ok {
			return nil, fmt.Errorf("no %s with identity %q", kind, n)
		}
		add(id)
	}
	for _, id := range m.ids {
		add(id)
	}
	return out, nil
}

// userIndex maps the identity of every user to its id.
func userIndex(ctx context.Context, c *client.Client) (map[string]string, error) {
	us, err := c.Users(ctx)
	return index(us, func(u model.User) (string, string) { return str(u.Identity), str(u.Identifier) }), err
}

// groupIndex maps the name of every group to its id.
func groupIndex(ctx context.Context, c *client.Client) (map[string]string, error) {
	gs, err := c.UserGroups(ctx)
	return index(gs, func(g model.UserGroup) (string, string) { return str(g.Identity), str(g.Identifier) }), err
}

func index[T any](items []T, key func(T) (string, string)) map[string]string {
	m := make(map[string]string, len(items))
	for _, it := range items {
		k, v := key(it)
		m[k] = v
	}
	return m
}

func createUserGroupCmd() *cobra.Command {
	var f registryFlags
	var name string
	var users members
	cmd := newRegCmd("create-user-group", "Create a user group and print its id", &f)
	cmd.Flags().StringVar(&name, "name", "", "the group's name (required)")
	users.register(cmd, "user")
	_ = cmd.MarkFlagRequired("name")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		known, err := userIndex(ctx, c)
		if err != nil {
			return err
		}
		ms, err := users.resolve("user", known)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(ms))
		for _, t := range ms {
			ids = append(ids, *t.Identifier)
		}
		g, err := c.CreateUserGroup(ctx, name, ids)
		if err != nil {
			return err
		}
		return printMade(out, f.json, g, g.Identifier)
	})
	return cmd
}

func updateUserGroupCmd() *cobra.Command {
	var f registryFlags
	var id, name string
	var users members
	cmd := newRegCmd("update-user-group", "Rename a user group or replace its members", &f)
	cmd.Flags().StringVar(&id, "group", "", "the group's id (required)")
	cmd.Flags().StringVar(&name, "name", "", "the new name (default: unchanged)")
	users.register(cmd, "user")
	_ = cmd.MarkFlagRequired("group")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		g, err := c.UserGroup(ctx, id)
		if err != nil {
			return err
		}
		if name != "" {
			g.Identity = &name
		}
		if users.given() {
			known, err := userIndex(ctx, c)
			if err != nil {
				return err
			}
			if g.Users, err = users.resolve("user", known); err != nil {
				return err
			}
		}
		if g, err = c.UpdateUserGroup(ctx, g); err != nil {
			return err
		}
		return printMade(out, f.json, g, g.Identifier)
	})
	return cmd
}

func printPolicy(out io.Writer, asJSON bool, p *model.AccessPolicy) error {
	if asJSON {
		return printJSON(out, p)
	}
	return table(out, "ACTION\tRESOURCE\tID\tUSERS\tGROUPS", func(tw io.Writer) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", str(p.Action), str(p.Resource), str(p.Identifier), tenantNames(p.Users), tenantNames(p.UserGroups))
	})
}

func getPolicyCmd() *cobra.Command {
	var f registryFlags
	var action, resource string
	cmd := newRegCmd("get-policy", "Show the policy of an action on a resource", &f)
	cmd.Flags().StringVar(&action, "action", "", "read, write or delete (required)")
	cmd.Flags().StringVar(&resource, "resource", "", "the resource, e.g. /buckets or /buckets/<id> (required)")
	_ = cmd.MarkFlagRequired("action")
	_ = cmd.MarkFlagRequired("resource")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		p, err := c.PolicyFor(ctx, action, resource)
		if err != nil {
			return err
		}
		return printPolicy(out, f.json, p)
	})
	return cmd
}

// policyFlags are what create-or-update-policy and update-bucket-policy
// set: the action and the users and groups the policy holds afterwards.
type policyFlags struct {
	action        string
	users, groups members
}

func (p *policyFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.action, "action", "", "read, write or delete (required)")
	p.users.register(cmd, "user")
	p.groups.register(cmd, "group")
	_ = cmd.MarkFlagRequired("action")
}

// upsert replaces the users, the groups or both (those given) of the
// policy of the action on resource, creating it when there is none (a
// 404), as the toolkit does.
func (p *policyFlags) upsert(ctx context.Context, c *client.Client, resource string) (*model.AccessPolicy, error) {
	uk, err := userIndex(ctx, c)
	if err != nil {
		return nil, err
	}
	users, err := p.users.resolve("user", uk)
	if err != nil {
		return nil, err
	}
	gk, err := groupIndex(ctx, c)
	if err != nil {
		return nil, err
	}
	groups, err := p.groups.resolve("group", gk)
	if err != nil {
		return nil, err
	}
	cur, err := c.PolicyFor(ctx, p.action, resource)
	switch {
	case err == nil && cur.Resource != nil && *cur.Resource == resource:
		// As the toolkit: members not named on the command line are kept.
		if !p.users.given() {
			users = cur.Users
		}
		if !p.groups.given() {
			groups = cur.UserGroups
		}
		return c.UpdatePolicy(ctx, model.AccessPolicy{Identifier: cur.Identifier, Action: cur.Action, Resource: cur.Resource, Revision: cur.Revision, Users: users, UserGroups: groups})
	case err == nil || client.StatusOf(err) == 404:
		// A policy of a parent resource answers for a resource without one
		// of its own (NiFi's inheritance): a new one is made for this one.
		return c.CreatePolicy(ctx, model.AccessPolicy{Action: &p.action, Resource: &resource, Users: users, UserGroups: groups})
	default:
		return nil, err
	}
}

func createOrUpdatePolicyCmd() *cobra.Command {
	var f registryFlags
	var pf policyFlags
	var resource string
	cmd := newRegCmd("create-or-update-policy", "Set the users or groups of the policy of an action on a resource (created when missing)", &f)
	pf.register(cmd)
	cmd.Flags().StringVar(&resource, "resource", "", "the resource, e.g. /buckets or /buckets/<id> (required)")
	_ = cmd.MarkFlagRequired("resource")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		p, err := pf.upsert(ctx, c, resource)
		if err != nil {
			return err
		}
		return printPolicy(out, f.json, p)
	})
	return cmd
}

func updateBucketPolicyCmd() *cobra.Command {
	var f registryFlags
	var pf policyFlags
	var bucket, bucketName string
	cmd := newRegCmd("update-bucket-policy", "Set the users or groups of a bucket's policy for an action; prints the policy's id", &f)
	pf.register(cmd)
	cmd.Flags().StringVar(&bucket, "bucket", "", "the bucket's id (or --bucket-name)")
	cmd.Flags().StringVar(&bucketName, "bucket-name", "", "the bucket's name")
	cmd.MarkFlagsOneRequired("bucket", "bucket-name")
	cmd.MarkFlagsMutuallyExclusive("bucket", "bucket-name")
	cmd.RunE = regRun(&f, func(ctx context.Context, c *client.Client, out io.Writer) error {
		if bucket == "" {
			bs, err := c.Buckets(ctx)
			if err != nil {
				return err
			}
			for _, b := range bs {
				if str(b.Name) == bucketName {
					bucket = str(b.Identifier)
				}
			}
			if bucket == "" {
				return fmt.Errorf("no bucket named %q", bucketName)
			}
		}
		p, err := pf.upsert(ctx, c, "/buckets/"+bucket)
		if err != nil {
			return err
		}
		return printMade(out, f.json, p, p.Identifier)
	})
	return cmd
}
