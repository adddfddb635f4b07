package contract

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const goldenDir = "testdata/golden"

// normaliser replaces what the server generates (identifiers, clock
// readings) with stable placeholders, so that everything else of an answer
// can be compared byte for byte.
type normaliser struct {
	ids  [][2]string        // actual → placeholder, longest actual first
	keep map[int64]struct{} // timestamps the client chose (kept)
}

func newNormaliser() *normaliser { return &normaliser{keep: map[int64]struct{}{}} }

// id registers a server-generated identifier and its placeholder.
func (n *normaliser) id(actual, placeholder string) {
	if actual == "" {
		return
	}
	for _, p := range n.ids {
		if p[0] == actual {
			return
		}
	}
	n.ids = append(n.ids, [2]string{actual, placeholder})
	sort.SliceStable(n.ids, func(i, j int) bool { return len(n.ids[i][0]) > len(n.ids[j][0]) })
}

// keepTimestamp leaves a client-supplied timestamp in place.
func (n *normaliser) keepTimestamp(ts int64) { n.keep[ts] = struct{}{} }

// timestampRe matches NiFi's timestamp members. Their values come from the
// server's clock; tests check them separately (positive, ordered).
var timestampRe = regexp.MustCompile(`"(createdTimestamp|modifiedTimestamp|timestamp)":(-?[0-9]+)`)

func (n *normaliser) apply(b []byte) []byte {
	out := timestampRe.ReplaceAllFunc(b, func(m []byte) []byte {
		sm := timestampRe.FindSubmatch(m)
		v, err := strconv.ParseInt(string(sm[2]), 10, 64)
		if err == nil {
			if _, ok := n.keep[v]; ok {
				return m
			}
		}
		return []byte(`"` + string(sm[1]) + `":"<timestamp>"`)
	})
	for _, p := range n.ids {
		out = bytes.ReplaceAll(out, []byte(p[0]), []byte(p[1]))
	}
	return out
}

// goldenJSON compares a JSON answer, normalised, with
// testdata/golden/<name>. The file holds the normalised bytes indented
// for review; json.Indent only adds whitespace, so member order, escaping
// and number spelling are compared exactly as the server sent them.
func goldenJSON(t testing.TB, n *normaliser, name string, body []byte) {
	t.Helper()
	norm := n.apply(body)
	var ind bytes.Buffer
	if err := json.Indent(&ind, norm, "", "  "); err != nil {
		t.Errorf("golden %s: answer is not JSON: %v\n%s", name, err, truncate(body, 400))
		return
	}
	ind.WriteByte('\n')
	goldenBytes(t, name, ind.Bytes())
}

// goldenBytes compares got with testdata/golden/<name>, or rewrites the
// file with -update.
func goldenBytes(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("golden %s: %v (run with -update to create it)", name, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("golden %s differs (run with -update after checking the change):\n%s", name, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	wl := strings.Split(want, "\n")
	gl := strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w == g {
			continue
		}
		b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g + "\n")
		shown++
		if shown == 8 {
			b.WriteString("  …\n")
			break
		}
	}
	return b.String()
}

// errorLog collects error answers for one golden text file: the request,
// the status and NiFi's text/plain message, normalised.
type errorLog struct {
	n *normaliser
	b bytes.Buffer
}

func (e *errorLog) add(name string, r *response) {
	e.b.WriteString("### " + name + "\n")
	e.b.Write(e.n.apply([]byte(r.method + " " + r.path + "\n")))
	e.b.WriteString(strconv.Itoa(r.status) + " " + r.header.Get("Content-Type") + "\n")
	e.b.Write(e.n.apply(r.body))
	e.b.WriteString("\n\n")
}

// TestGoldenNormaliser checks the normaliser itself: ids and server
// timestamps become placeholders, client timestamps and everything else
// stay as they are.
func TestGoldenNormaliser(t *testing.T) {
	n := newNormaliser()
	n.id("0b2a", "<bucket-1>")
	n.id("0b2a-ff", "<flow-1>")
	n.keepTimestamp(1600000000000)
	in := `{"createdTimestamp":1763780000123,"identifier":"0b2a","flowIdentifier":"0b2a-ff","timestamp":1600000000000,"versionCount":3}`
	want := `{"createdTimestamp":"<timestamp>","identifier":"<bucket-1>","flowIdentifier":"<flow-1>","timestamp":1600000000000,"versionCount":3}`
	if got := string(n.apply([]byte(in))); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
