package sitetosite

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/weir-nifi/weir/internal/durable"
)

// peerCache is what is kept on disk for one remote cluster: NiFi's peer
// cache (s2s-protocol.md §7.4: the transport name, the configured URL
// string, one host:port:secure:queryForPeers line per peer) followed by
// lines of Weir's own that NiFi's parser skips (they hold no colon): the
// cluster's controller id, so that the same URLs now leading to another
// cluster invalidate the cache, and the port name → id mapping, so that a
// named port works while no node answers /site-to-site.
//
//	HTTP
//	Remote Instance URIs: http://a:8080/nifi,http://b:8080/nifi
//	a:8080:false:true
//	b:8080:false:true
//	# weir-controller 5d2c…
//	# weir-port input ingest 3f1e…
type peerCache struct {
	URLs       string // the configured URL string, exactly
	Peers      []PeerStatus
	Controller string
	Ports      map[portKey]string
}

type portKey struct {
	input bool
	name  string
}

const (
	cacheTransport  = "HTTP"
	cacheURLsPrefix = "Remote Instance URIs: "
	cacheController = "# weir-controller "
	cachePort       = "# weir-port "
)

// cachePath names the cache file of the cluster reached through urls.
func cachePath(dir, urls string) string {
	sum := sha256.Sum256([]byte(urls))
	return filepath.Join(dir, "cluster-"+hex.EncodeToString(sum[:8])+".peers")
}

func (c peerCache) encode() []byte {
	var b bytes.Buffer
	b.WriteString(cacheTransport + "\n")
	b.WriteString(cacheURLsPrefix + c.URLs + "\n")
	for _, p := range c.Peers {
		b.WriteString(peerLine(p) + "\n")
	}
	if c.Controller != "" {
		b.WriteString(cacheController + url.QueryEscape(c.Controller) + "\n")
	}
	for k, id := range c.Ports {
		kind := "output"
		if k.input {
			kind = "input"
		}
		fmt.Fprintf(&b, "%s%s %s %s\n", cachePort, kind, url.QueryEscape(k.name), url.QueryEscape(id))
	}
	return b.Bytes()
}

// decodeCache parses a cache file. Like NiFi it refuses a file of another
// transport or URL string (NIFI-8116) or without peers, and skips lines it
// does not understand.
func decodeCache(data []byte, urls string) (peerCache, error) {
	c := peerCache{URLs: urls, Ports: map[portKey]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for i := 0; sc.Scan(); i++ {
		line := sc.Text()
		switch {
		case i == 0:
			if line != cacheTransport {
				return c, fmt.Errorf("peer cache of transport %q, not %s", line, cacheTransport)
			}
		case i == 1:
			if line != cacheURLsPrefix+urls {
				return c, fmt.Errorf("peer cache for %q, not %q", strings.TrimPrefix(line, cacheURLsPrefix), urls)
			}
		case strings.HasPrefix(line, cacheController):
			if id, err := url.QueryUnescape(strings.TrimPrefix(line, cacheController)); err == nil {
				c.Controller = id
			}
		case strings.HasPrefix(line, cachePort):
			f := strings.Fields(strings.TrimPrefix(line, cachePort))
			if len(f) != 3 || (f[0] != "input" && f[0] != "output") {
				continue
			}
			name, err1 := url.QueryUnescape(f[1])
			id, err2 := url.QueryUnescape(f[2])
			if err1 == nil && err2 == nil {
				c.Ports[portKey{input: f[0] == "input", name: name}] = id
			}
		default:
			if p, ok := parsePeerLine(line); ok {
				c.Peers = append(c.Peers, p)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	if len(c.Peers) == 0 {
		return c, fmt.Errorf("peer cache without peers")
	}
	return c, nil
}

func loadCache(path, urls string) (peerCache, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return peerCache{}, err
	}
	return decodeCache(data, urls)
}

// saveCache writes the file atomically (durable.ReplaceFile): a crash
// leaves the previous file or the new one, never a torn one (NiFi
// truncates and rewrites in place).
func saveCache(path string, c peerCache) error {
	return durable.ReplaceFile(path, c.encode(), 0o644)
}
