package server

import (
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// The proxy headers NiFi's StandardRequestUriProvider reads, in its order
// of precedence.
var (
	schemeHeaders  = []string{"X-ProxyScheme", "X-Forwarded-Proto"}
	hostHeaders    = []string{"X-ProxyHost", "X-Forwarded-Host"}
	portHeaders    = []string{"X-ProxyPort", "X-Forwarded-Port"}
	contextHeaders = []string{"X-ProxyContextPath", "X-Forwarded-Context", "X-Forwarded-Prefix"}
)

var (
	schemePattern        = regexp.MustCompile(`^https?$`)
	hostPattern          = regexp.MustCompile(`^([^:]+):?([1-9][0-9]{2,4})?$`)
	hostPortRequired     = regexp.MustCompile(`^[^:]+:([1-9][0-9]{2,4})$`)
	hostnameChars        = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)
	errContextNotAllowed = errors.New("Request Header Context Path not allowed based on properties [nifi.web.proxy.context.path]")
)

// baseURL is the scheme://host:port plus context path clients are to use,
// built as NiFi's RequestUriBuilder.fromHttpServletRequest does: the first
// non-blank proxy header of each kind wins when it is well formed, else the
// request's own value. The port is always explicit, as Java's URI(scheme,
// null, host, port, path, ...) writes it. Unlike NiFi, a host header that
// is not a plain host name or address is ignored rather than turned into a
// broken URL, and IPv6 request hosts are kept in brackets.
func (s *Server) baseURL(r *http.Request) (string, error) {
	reqScheme := "http"
	if r.TLS != nil {
		reqScheme = "https"
	}
	serverName, serverPort := requestHostPort(r, reqScheme)

	scheme := reqScheme
	if v := firstHeader(r, schemeHeaders...); v != "" && schemePattern.MatchString(v) {
		scheme = v
	}

	host := serverName
	if v := firstHeader(r, append(hostHeaders, "Host")...); v != "" {
		if m := hostPattern.FindStringSubmatch(v); m != nil && hostnameChars.MatchString(m[1]) {
			host = m[1]
		}
	}

	port := serverPort
	if v := firstHeader(r, hostHeaders...); v != "" {
		if m := hostPortRequired.FindStringSubmatch(v); m != nil {
			port = parsePort(m[1], serverPort)
		} else {
			port = proxyPort(r, serverPort)
		}
	} else {
		port = proxyPort(r, serverPort)
	}

	context := ""
	if v := firstHeader(r, contextHeaders...); v != "" && v != "/" {
		if !s.contextPaths[v] {
			return "", errContextNotAllowed
		}
		context = strings.TrimSuffix(v, "/")
	}
	return scheme + "://" + net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port)) + context, nil
}

// requestHostPort is what Jetty's getServerName and getServerPort give:
// the Host (or :authority) of the request, else the local address; the
// port defaults to the scheme's.
func requestHostPort(r *http.Request, scheme string) (string, int) {
	def := 80
	if scheme == "https" {
		def = 443
	}
	hostport := r.Host
	if hostport == "" {
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			hostport = a.String()
		}
	}
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return strings.Trim(hostport, "[]"), def
	}
	p, err := strconv.Atoi(portStr)
	if err != nil || p <= 0 || p > 65535 {
		p = def
	}
	return host, p
}

func proxyPort(r *http.Request, serverPort int) int {
	if v := firstHeader(r, portHeaders...); v != "" {
		return parsePort(v, serverPort)
	}
	return serverPort
}

// parsePort takes a proxy's port if it is within NiFi's 100–65535.
func parsePort(v string, def int) int {
	p, err := strconv.Atoi(v)
	if err != nil || p < 100 || p > 65535 {
		return def
	}
	return p
}

// firstHeader returns the first non-blank of the named headers; "Host" is
// the request's host (Go keeps it in r.Host, and HTTP/2's :authority too).
func firstHeader(r *http.Request, names ...string) string {
	for _, n := range names {
		v := r.Header.Get(n)
		if n == "Host" {
			v = r.Host
		}
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
