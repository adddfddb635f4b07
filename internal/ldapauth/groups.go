package ldapauth

import (
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// GroupSearch describes where the directory's groups are, for syncing
// them into Weir's user groups (NiFi's LdapUserGroupProvider, reduced to
// groups listing their members' DNs).
type GroupSearch struct {
	Base string
	// Filter selects groups (default groupOfNames or groupOfUniqueNames).
	Filter string
	// NameAttribute names a group (default cn); MemberAttribute holds the
	// members' DNs (default member).
	NameAttribute, MemberAttribute string
}

// Group is a directory group with its members' identities.
type Group struct {
	Name    string
	Members []string
}

// Groups lists the groups and their members. A member's identity follows
// the identity strategy: its DN (USE_DN), or the value of the first part
// of its DN (USE_USERNAME: uid=alice,ou=people,… is alice).
func (c Config) Groups(g GroupSearch) ([]Group, error) {
	if g.Filter == "" {
		g.Filter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
	}
	if g.NameAttribute == "" {
		g.NameAttribute = "cn"
	}
	if g.MemberAttribute == "" {
		g.MemberAttribute = "member"
	}
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if c.BindDN != "" {
		if err := conn.Bind(c.BindDN, c.BindPassword); err != nil {
			return nil, fmt.Errorf("LDAP: manager bind as %s: %w", c.BindDN, err)
		}
	}
	res, err := conn.SearchWithPaging(ldap.NewSearchRequest(g.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, int(c.timeout().Seconds()), false, g.Filter, []string{g.NameAttribute, g.MemberAttribute}, nil), 500)
	if err != nil {
		return nil, fmt.Errorf("LDAP: group search %s: %w", g.Filter, err)
	}
	var out []Group
	for _, e := range res.Entries {
		name := e.GetAttributeValue(g.NameAttribute)
		if name == "" {
			continue
		}
		grp := Group{Name: name}
		for _, dn := range e.GetAttributeValues(g.MemberAttribute) {
			if id := c.memberIdentity(dn); id != "" {
				grp.Members = append(grp.Members, id)
			}
		}
		out = append(out, grp)
	}
	return out, nil
}

func (c Config) memberIdentity(dn string) string {
	if !strings.EqualFold(c.IdentityStrategy, "USE_USERNAME") {
		return dn
	}
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
		return ""
	}
	return parsed.RDNs[0].Attributes[0].Value
}
