package harness

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// LDAP is a throwaway OpenLDAP server (Debian's slapd) for login tests,
// with the suffix dc=example,dc=com, users under ou=people and a manager
// that may search them.
type LDAP struct {
	URL            string
	BindDN, BindPW string
	UserBase       string
}

// LDAPUser is a user to create: uid and password.
type LDAPUser struct{ UID, Password string }

// LDAPGroup is a groupOfNames under ou=groups with users (uids) as
// members.
type LDAPGroup struct {
	CN      string
	Members []string
}

// GroupBase is where StartLDAPWithGroups puts groups.
const LDAPGroupBase = "ou=groups,dc=example,dc=com"

// StartLDAP starts slapd on a free loopback port with users. Without
// slapd it skips the test, or fails it when CI=true (the CI installs it).
func StartLDAP(t testing.TB, users ...LDAPUser) *LDAP {
	t.Helper()
	return StartLDAPWithGroups(t, users, nil)
}

// StartLDAPWithGroups is StartLDAP with groups too.
func StartLDAPWithGroups(t testing.TB, users []LDAPUser, groups []LDAPGroup) *LDAP {
	t.Helper()
	slapd, err := exec.LookPath("slapd")
	if err != nil {
		slapd = "/usr/sbin/slapd"
	}
	slapadd := filepath.Join(filepath.Dir(slapd), "slapadd")
	if _, err := os.Stat(slapd); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("slapd is not installed (apt-get install slapd ldap-utils): %v", err)
		}
		t.Skip("slapd is not installed")
	}
	dir := t.TempDir()
	for _, d := range []string{"slapd.d", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	l := &LDAP{BindDN: "cn=admin,dc=example,dc=com", BindPW: "manager-secret", UserBase: "ou=people,dc=example,dc=com"}
	config := fmt.Sprintf(`dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: %[1]s/slapd.pid

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: dc=example,dc=com
olcDbDirectory: %[1]s/data
olcRootDN: %[2]s
olcRootPW: %[3]s
olcAccess: {0}to attrs=userPassword by self read by anonymous auth by * none
olcAccess: {1}to * by * read
`, dir, l.BindDN, l.BindPW)
	data := `dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people
`
	for _, u := range users {
		data += fmt.Sprintf("\ndn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n", u.UID, l.UserBase, u.UID, u.UID, u.UID, u.Password)
	}
	if len(groups) > 0 {
		data += "\ndn: " + LDAPGroupBase + "\nobjectClass: organizationalUnit\nou: groups\n"
	}
	for _, g := range groups {
		data += fmt.Sprintf("\ndn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\n", g.CN, LDAPGroupBase, g.CN)
		for _, m := range g.Members {
			data += fmt.Sprintf("member: uid=%s,%s\n", m, l.UserBase)
		}
	}
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, args := range [][]string{
		{"-n0", "-F", filepath.Join(dir, "slapd.d"), "-l", write("config.ldif", config)},
		{"-n1", "-F", filepath.Join(dir, "slapd.d"), "-l", write("data.ldif", data)},
	} {
		if out, err := exec.Command(slapadd, args...).CombinedOutput(); err != nil {
			t.Fatalf("slapadd %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	port := FreePort(t, "127.0.0.1")
	l.URL = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	logf, err := os.Create(filepath.Join(dir, "slapd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(slapd, "-d", "256", "-F", filepath.Join(dir, "slapd.d"), "-h", l.URL+"/")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return l
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "slapd.log"))
			t.Fatalf("slapd did not listen: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
