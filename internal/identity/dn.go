package identity

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// Short names Java's X500Name prints for attribute types.
var attrNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SURNAME",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "T",
	"2.5.4.42":                   "GIVENNAME",
	"2.5.4.43":                   "INITIALS",
	"2.5.4.44":                   "GENERATION",
	"2.5.4.46":                   "DNQUALIFIER",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "EMAILADDRESS",
}

// SubjectDN renders a certificate subject the way NiFi Registry reads it
// (X509Certificate.getSubjectDN().getName(), i.e. X500Name.toString()):
// the most specific RDN first, RDNs separated by ", ", multi-valued RDNs
// joined by " + ", unknown attribute types as OID.n.n=#hex... is left to
// the dotted OID with the value as text.
func SubjectDN(name pkix.Name) string {
	seq := name.ToRDNSequence()
	if len(name.Names) > 0 {
		// Names holds the parsed attributes in certificate order.
		seq = nil
		for _, a := range name.Names {
			seq = append(seq, pkix.RelativeDistinguishedNameSET{a})
		}
	}
	parts := make([]string, 0, len(seq))
	for i := len(seq) - 1; i >= 0; i-- {
		var avas []string
		for _, a := range seq[i] {
			avas = append(avas, attrName(a.Type)+"="+escapeValue(fmt.Sprint(a.Value)))
		}
		parts = append(parts, strings.Join(avas, " + "))
	}
	return strings.Join(parts, ", ")
}

func attrName(t asn1.ObjectIdentifier) string {
	if n, ok := attrNames[t.String()]; ok {
		return n
	}
	return "OID." + t.String()
}

// escapeValue quotes a value as X500Name.toString does when it holds
// characters with a meaning in a DN.
func escapeValue(v string) string {
	if v == "" {
		return v
	}
	if strings.ContainsAny(v, ",+=\"\\<>;#") || v[0] == ' ' || v[len(v)-1] == ' ' {
		return `"` + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), `"`, `\"`) + `"`
	}
	return v
}
