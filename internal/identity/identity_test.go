package identity

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
	"testing"
)

func TestMapping(t *testing.T) {
	dn, err := ParseMapping(`pattern=^CN=(.*?), OU=(.*?)$;value=$1@$2x;transform=LOWER`)
	if err != nil {
		t.Fatal(err)
	}
	upper, err := ParseMapping(`pattern=(.*)@EXAMPLE\.COM;value=$1;transform=UPPER;name=kerberos`)
	if err != nil {
		t.Fatal(err)
	}
	ms := []Mapping{dn, upper}
	for in, want := range map[string]string{
		"CN=Alice, OU=Eng":           "alice@engx",
		"bob@EXAMPLE.COM":            "BOB",
		"CN=Carol, OU=Eng, O=Acme":   "carol@eng, o=acmex", // lazy groups still match the whole identity
		"carol":                      "carol",              // no pattern matches: unchanged
		"xbob@EXAMPLE.COMx":          "xbob@EXAMPLE.COMx",  // the pattern must match the whole identity
		"CN=Dave, OU=Ops; semicolon": "dave@ops; semicolonx",
	} {
		if got := Map(in, ms); got != want {
			t.Errorf("Map(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"", "pattern=x", "value=y", "pattern=(;value=y", "pattern=x;value=y;transform=SIDEWAYS", "pattern=x;value=y;value=z"} {
		if _, err := ParseMapping(bad); err == nil {
			t.Errorf("ParseMapping(%q) accepted", bad)
		}
	}
	// A pattern with a semicolon that is not followed by a key.
	m, err := ParseMapping(`pattern=a;b(.*);value=$1`)
	if err != nil || Map("a;bZ", []Mapping{m}) != "Z" {
		t.Fatalf("semicolon in pattern: %v %q", err, Map("a;bZ", []Mapping{m}))
	}
}

func TestSubjectDN(t *testing.T) {
	n := pkix.Name{Names: []pkix.AttributeTypeAndValue{
		{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "US"},
		{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "Acme, Inc"},
		{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "NIFI"},
		{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "node1.example.com"},
	}}
	if got, want := SubjectDN(n), `CN=node1.example.com, OU=NIFI, O="Acme, Inc", C=US`; got != want {
		t.Fatalf("SubjectDN = %q, want %q", got, want)
	}
}

func TestChain(t *testing.T) {
	for h, want := range map[string][]string{
		"":                          nil,
		"<alice>":                   {"alice"},
		"<alice><CN=nifi, OU=NIFI>": {"alice", "CN=nifi, OU=NIFI"},
		"<>":                        {""},
		"<><CN=nifi>":               {"", "CN=nifi"},
		`<a\<b\>><p>`:               {"a<b>", "p"},
		"<<w7xsw6k=>><CN=nifi>":     {"ülé", "CN=nifi"},
		"<CN=nifi><<w7xsw6k=>>":     {"CN=nifi", "ülé"},
	} {
		got, err := ParseChain(h)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseChain(%q) = %q, %v; want %q", h, got, err, want)
		}
		if h != "" && FormatChain(want) != h {
			t.Errorf("FormatChain(%q) = %q, want %q", want, FormatChain(want), h)
		}
	}
	for _, bad := range []string{"alice", "<alice", "alice>", ">", "<<not base64!>>", "<<//8=>>"} {
		if _, err := ParseChain(bad); err == nil {
			t.Errorf("ParseChain(%q) accepted", bad)
		}
	}
}

func FuzzChain(f *testing.F) {
	for _, s := range []string{"<alice><CN=nifi>", `<a\<b\>><p>`, "<<w7xsw6k=>>", "<>", "<a><><b>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		ids, err := ParseChain(h)
		if err != nil {
			return
		}
		// What parses writes back to a header that parses to the same.
		again, err := ParseChain(FormatChain(ids))
		if err != nil || !slices.Equal(again, ids) {
			t.Fatalf("%q -> %q -> %q -> %q, %v", h, ids, FormatChain(ids), again, err)
		}
	})
}

func FuzzMapping(f *testing.F) {
	f.Add(`^CN=(.*?), OU=(.*?)$`, "$1@$2", "CN=a, OU=b", uint8(2))
	f.Add(`(.*)`, "${1}x$0", "anything", uint8(1))
	f.Fuzz(func(t *testing.T, pattern, value, id string, tr uint8) {
		m, err := ParseMapping("pattern=" + pattern + ";value=" + value + ";transform=" + []string{"NONE", "UPPER", "LOWER"}[tr%3])
		if err != nil {
			return
		}
		_ = Map(id, []Mapping{m}) // must not panic, whatever the pattern
	})
}
