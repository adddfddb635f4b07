package identity

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"
)

// HeaderProxiedEntitiesChain is the header NiFi sends for its users.
const HeaderProxiedEntitiesChain = "X-ProxiedEntitiesChain"

// ErrChain is a chain header that is not in NiFi's format.
var ErrChain = errors.New("Proxy chain format is not recognized and can not safely be converted to a list.")

// ParseChain splits an X-ProxiedEntitiesChain value into identities, end
// user first, as NiFi's ProxiedEntitiesUtils.tokenizeProxiedEntitiesChain:
// "<user><proxy1>…", "\<" and "\>" stand for angle brackets inside an
// identity, "<>" is the anonymous user (an empty identity), and an
// identity itself wrapped in angle brackets ("<<…>>") is base64 of UTF-8
// (how NiFi sends non-ASCII identities). An empty header is no chain.
func ParseChain(h string) ([]string, error) {
	if h == "" {
		return nil, nil
	}
	if len(h) < 2 || h[0] != '<' || h[len(h)-1] != '>' || !utf8.ValidString(h) {
		return nil, ErrChain
	}
	elems := strings.Split(h[1:len(h)-1], "><")
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		id, err := unsanitize(e)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func unsanitize(e string) (string, error) {
	if len(e) >= 2 && e[0] == '<' && e[len(e)-1] == '>' {
		b, err := base64.StdEncoding.DecodeString(e[1 : len(e)-1])
		if err != nil || !utf8.Valid(b) {
			return "", ErrChain
		}
		return string(b), nil
	}
	return strings.ReplaceAll(strings.ReplaceAll(e, `\<`, "<"), `\>`, ">"), nil
}

// FormatChain writes identities as NiFi's ProxiedEntitiesUtils does:
// each in angle brackets, brackets inside escaped, non-ASCII identities
// as base64 of UTF-8 wrapped once more.
func FormatChain(ids []string) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteByte('<')
		if isASCII(id) {
			b.WriteString(strings.ReplaceAll(strings.ReplaceAll(id, "<", `\<`), ">", `\>`))
		} else {
			b.WriteByte('<')
			b.WriteString(base64.StdEncoding.EncodeToString([]byte(id)))
			b.WriteByte('>')
		}
		b.WriteByte('>')
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
