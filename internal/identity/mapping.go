package identity

import (
	"fmt"
	"regexp"
	"strings"
)

// Transform is applied to an identity after a mapping rewrote it.
type Transform int

const (
	None Transform = iota
	Upper
	Lower
)

// Mapping is one of NiFi's identity mappings
// (nifi.registry.security.identity.mapping.pattern/value/transform.*): an
// identity the pattern matches as a whole is replaced by Value, in which
// $1, ${name}… name the pattern's groups, then transformed.
type Mapping struct {
	Name      string
	Pattern   *regexp.Regexp
	Value     string
	Transform Transform
}

// ParseMapping reads a mapping written as
// "pattern=REGEX;value=VALUE[;transform=NONE|UPPER|LOWER][;name=NAME]". The
// pattern must match the whole identity, as Java's Matcher.matches does.
// Fields are split on ";" only where it is followed by a known key, so a
// pattern may contain semicolons.
func ParseMapping(s string) (Mapping, error) {
	var m Mapping
	fields := splitFields(s)
	var pattern string
	seen := map[string]bool{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return m, fmt.Errorf("identity mapping %q: %q is not key=value", s, f)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if seen[k] {
			return m, fmt.Errorf("identity mapping %q: %s given twice", s, k)
		}
		seen[k] = true
		switch k {
		case "pattern":
			pattern = v
		case "value":
			m.Value = v
		case "transform":
			switch strings.ToUpper(strings.TrimSpace(v)) {
			case "", "NONE":
				m.Transform = None
			case "UPPER":
				m.Transform = Upper
			case "LOWER":
				m.Transform = Lower
			default:
				return m, fmt.Errorf("identity mapping %q: transform is NONE, UPPER or LOWER, not %q", s, v)
			}
		case "name":
			m.Name = v
		default:
			return m, fmt.Errorf("identity mapping %q: unknown key %q (pattern, value, transform, name)", s, k)
		}
	}
	if pattern == "" || !seen["value"] {
		return m, fmt.Errorf("identity mapping %q: needs pattern= and value=", s)
	}
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return m, fmt.Errorf("identity mapping %q: %v", s, err)
	}
	m.Pattern = re
	// Java reads "$1x" as group 1 then "x"; Go as a group named "1x".
	m.Value = javaGroupRef.ReplaceAllString(m.Value, "$${$1}")
	return m, nil
}

var javaGroupRef = regexp.MustCompile(`\$([0-9]+)`)

var fieldKeys = []string{"pattern=", "value=", "transform=", "name="}

// splitFields splits on ";" followed by a known key.
func splitFields(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] != ';' {
			continue
		}
		rest := strings.ToLower(s[i+1:])
		for _, k := range fieldKeys {
			if strings.HasPrefix(strings.TrimLeft(rest, " "), k) {
				out = append(out, s[start:i])
				start = i + 1
				break
			}
		}
	}
	return append(out, s[start:])
}

// Map applies the first mapping whose pattern matches the whole identity;
// an identity no pattern matches is returned unchanged, as NiFi does.
func Map(id string, ms []Mapping) string {
	for _, m := range ms {
		sub := m.Pattern.FindStringSubmatchIndex(id)
		if sub == nil {
			continue
		}
		out := string(m.Pattern.ExpandString(nil, m.Value, id, sub))
		switch m.Transform {
		case Upper:
			out = strings.ToUpper(out)
		case Lower:
			out = strings.ToLower(out)
		}
		return out
	}
	return id
}
