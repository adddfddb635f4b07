package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/weir-nifi/weir/internal/bundles"
	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/events"
	"github.com/weir-nifi/weir/internal/model"
)

// FuzzApply drives the state machine with sequences of entries generated
// from the fuzz input: valid and invalid commands of every type over a
// small pool of ids and names (so names collide, renames clash, deletes
// cascade and versions skip), hostile values (empty, blank, ".", "..",
// control characters, invalid UTF-8, keys just over bbolt's limit),
// revision claims, raw and mangled bytes, config entries without data, and
// now and then an entry from a "newer build" (unknown format or type).
//
// Store A applies every entry alone, store B the same entries in batches
// of random sizes (sometimes re-sending the previous batch, as a replay
// after a restart does). The contract of Apply checked after every batch:
//   - an entry is applied or refused; a refusal is a *model.Error and
//     changes nothing (A: state hash, counts and member table unchanged);
//   - an unknown entry stops the batch before it: results for the prefix,
//     an *UnknownCommandError for that entry, applied index at the prefix,
//     and the same again when the batch is re-sent;
//   - no other error (a database failure) and no panic, whatever the input;
//   - A and B agree on every result, the state hash, counts, member table
//     and applied index; the kept hash equals the recomputed one.
//
// Both stores skip fsync (NoSync): it changes nothing Apply decides and
// keeps an iteration at a few milliseconds on a real disk.
func FuzzApply(f *testing.F) {
	for _, seed := range fuzzApplySeeds() {
		f.Add(seed)
	}
	dir := f.TempDir()
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		// Files in one directory per process: a directory per iteration
		// costs more than the iteration.
		i := n.Add(1)
		a := openFuzzStore(t, filepath.Join(dir, fmt.Sprintf("%d-a.db", i)))
		b := openFuzzStore(t, filepath.Join(dir, fmt.Sprintf("%d-b.db", i)))
		fuzzRunApply(t, a, b, data)
	})
}

// fuzzTrace logs every entry and result (WEIR_FUZZ_TRACE=1), to read what
// a seed or a crasher does: go test -run 'FuzzApply/NAME' -v.
var fuzzTrace = os.Getenv("WEIR_FUZZ_TRACE") != ""

// Limits of one iteration.
const (
	fuzzMaxEntries = 40
	fuzzMaxBatch   = 8
)

// fuzzEmptyStore is the file of a new, empty store, as its non-zero pages
// and its (sparse) size. Creating a bbolt file syncs it and its first
// growth truncates it to 16 MB and syncs again, which costs milliseconds
// on a real disk; every iteration starts from a sparse copy of this one
// instead, byte for byte a new store that will not need to grow.
type fuzzFile struct {
	size  int64
	pages map[int64][]byte
}

var fuzzEmptyStore = sync.OnceValues(func() (fuzzFile, error) {
	dir, err := os.MkdirTemp("", "weir-fuzz-")
	if err != nil {
		return fuzzFile{}, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "state.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		return fuzzFile{}, err
	}
	// Grow the file once (bbolt grows it by 16 MB at a time).
	if _, err := s.Apply([]Entry{{Index: 1}}); err != nil {
		return fuzzFile{}, err
	}
	if err := s.Close(); err != nil {
		return fuzzFile{}, err
	}
	// The applied index is part of the file: start again from 0.
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		return fuzzFile{}, err
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(tMeta).Delete(appliedKey) })
	if err := errors.Join(err, db.Close()); err != nil {
		return fuzzFile{}, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fuzzFile{}, err
	}
	f := fuzzFile{size: int64(len(raw)), pages: map[int64][]byte{}}
	const page = 4096
	for off := 0; off < len(raw); off += page {
		p := raw[off:min(off+page, len(raw))]
		for _, c := range p {
			if c != 0 {
				f.pages[int64(off)] = p
				break
			}
		}
	}
	return f, nil
})

func openFuzzStore(t *testing.T, path string) *Store {
	t.Helper()
	empty, err := fuzzEmptyStore()
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for off, p := range empty.pages {
		if _, err := file.WriteAt(p, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(file.Truncate(empty.size), file.Close()); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		os.Remove(path)
	})
	return s
}

// ---- the generator

// fuzzGen reads the fuzz input as a stream of choices; past its end every
// choice is 0.
type fuzzGen struct {
	b []byte
	i int
}

func (g *fuzzGen) more() bool { return g.i < len(g.b) }

func (g *fuzzGen) u8() byte {
	if g.i >= len(g.b) {
		return 0
	}
	v := g.b[g.i]
	g.i++
	return v
}

func (g *fuzzGen) pick(n int) int { return int(g.u8()) % n }

// take returns up to max bytes of input (length chosen by the input).
func (g *fuzzGen) take(max int) []byte {
	n := g.pick(max + 1)
	out := make([]byte, n)
	for i := range out {
		out[i] = g.u8()
	}
	return out
}

var (
	// Ids shared by buckets, flows and nodes: a bucket and a flow with the
	// same id share a revision record, which is how NiFi keys them too.
	fuzzIDs = []string{"b1", "b2", "f1", "f2", "x"}
	// fuzzHostileIDs: empty and blank, path tricks, control characters,
	// invalid UTF-8 (JSON turns it into U+FFFD), and lengths around
	// bbolt's key limit: MaxKeySize-8 still fits every key an id is part
	// of (uvarint length + id + 4-byte version), MaxKeySize-6 does not.
	fuzzHostileIDs = []string{"", " ", ".", "..", "\x00", "a\nb", "\xff\xfe", "/", "ñ", "b1 ",
		strings.Repeat("i", bolt.MaxKeySize+1), strings.Repeat("j", bolt.MaxKeySize-8), strings.Repeat("k", bolt.MaxKeySize-6)}
	fuzzNames = []string{"n1", "n2", "N1", "n1 "}
	// Bucket names are keys themselves: MaxKeySize fits, one more does not;
	// a flow name is a key after its bucket's prefixed id.
	fuzzHostileNames = []string{"", " ", "\t\n", ".", "..", "\x00", "\xff", "😀",
		strings.Repeat("m", bolt.MaxKeySize), strings.Repeat("m", bolt.MaxKeySize+1), strings.Repeat("m", bolt.MaxKeySize-3)}
	fuzzTexts    = []string{"", "d", " ", "\x00\x01", "\xff", "<&>\u2028", strings.Repeat("t", 5000)}
	fuzzClients  = []string{"c1", "c2", ""}
	fuzzInt64s   = []int64{0, 1, 2, -1, 1000, math.MaxInt64, math.MinInt64, 1 << 53}
	fuzzRevs     = []int64{0, 1, 2, 3, -1, math.MaxInt64, math.MinInt64}
	fuzzZones    = []string{"", "z1", "\x00", strings.Repeat("z", 5000)}
	fuzzAPIURLs  = []string{"", "http://127.0.0.1:1", "not a url", "\xff"}
	fuzzLevels   = []int{0, 1, 2, -1, math.MaxInt32}
	fuzzVersions = []int32{0, -1, 1, 2, math.MaxInt32, math.MinInt32}
)

func (g *fuzzGen) id() string { return fuzzIDOf(g.u8()) }

func fuzzIDOf(v byte) string {
	if v < 0xC0 {
		return fuzzIDs[int(v)%len(fuzzIDs)]
	}
	return fuzzHostileIDs[int(v-0xC0)%len(fuzzHostileIDs)]
}

// fuzzView is what store A holds: the generator addresses existing
// buckets and flows most of the time, so commands get past "not found".
type fuzzView struct {
	buckets, flows []string
	bucketOf       map[string]string // flow id -> bucket id
}

func fuzzViewOf(t *testing.T, s *Store) fuzzView {
	v := fuzzView{bucketOf: map[string]string{}}
	err := s.Read(func(tx *Tx) error {
		err := tx.b(tBuckets).ForEach(func(k, _ []byte) error {
			v.buckets = append(v.buckets, string(k))
			return nil
		})
		if err != nil {
			return err
		}
		return tx.b(tFlows).ForEach(func(k, raw []byte) error {
			var f struct {
				BucketID string `json:"bucketId"`
			}
			if err := json.Unmarshal(raw, &f); err != nil {
				return err
			}
			v.flows = append(v.flows, string(k))
			v.bucketOf[string(k)] = f.BucketID
			return nil
		})
	})
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	return v
}

// existing is a stored id (v < 0x80, when there is one), else an id of
// the pool or a hostile one.
func (g *fuzzGen) existing(stored []string) string {
	if v := g.u8(); v < 0x80 && len(stored) > 0 {
		return stored[int(v)%len(stored)]
	} else {
		return fuzzIDOf(v)
	}
}

// flowRef is a flow id and, mostly, the id of its own bucket.
func (g *fuzzGen) flowRef(v fuzzView) (bucketID, flowID string) {
	flowID = g.existing(v.flows)
	if b, ok := v.bucketOf[flowID]; ok && g.u8() < 0xC0 {
		return b, flowID
	}
	return g.existing(v.buckets), flowID
}

func (g *fuzzGen) name() string {
	v := g.u8()
	if v < 0xC0 {
		return fuzzNames[int(v)%len(fuzzNames)]
	}
	return fuzzHostileNames[int(v-0xC0)%len(fuzzHostileNames)]
}

// optName is nil, a name, or "" (which updates treat as "no rename").
func (g *fuzzGen) optName() *string {
	switch v := g.u8(); {
	case v < 0x40:
		return nil
	case v < 0x48:
		s := ""
		return &s
	default:
		s := g.name()
		return &s
	}
}

func (g *fuzzGen) optText() *string {
	v := g.u8()
	if v < 0x80 {
		return nil
	}
	s := fuzzTexts[int(v)%len(fuzzTexts)]
	return &s
}

func (g *fuzzGen) text() string { return fuzzTexts[g.pick(len(fuzzTexts))] }

func (g *fuzzGen) i64() int64 {
	v := g.u8()
	if v < 0x80 {
		return int64(v)
	}
	return fuzzInt64s[int(v)%len(fuzzInt64s)]
}

func (g *fuzzGen) flag() bool { return g.u8()&1 == 1 }

func (g *fuzzGen) optFlag() *bool {
	switch g.pick(3) {
	case 0:
		return nil
	case 1:
		v := false
		return &v
	}
	v := true
	return &v
}

// claim is nil (revisions off) most of the time, else a claim with a
// version and maybe a client id.
func (g *fuzzGen) claim() *command.Claim {
	v := g.u8()
	if v < 0xC0 {
		return nil
	}
	c := &command.Claim{Version: fuzzRevs[int(v)%len(fuzzRevs)]}
	if w := g.u8(); w >= 0x80 {
		id := fuzzClients[int(w)%len(fuzzClients)]
		c.ClientID = &id
	}
	return c
}

func (g *fuzzGen) actor() string { return []string{"anonymous", "", "\xff", "alice"}[g.pick(4)] }

// version is a version number for flowID: mostly the next one (read from
// the state), else 0, -1, first, a duplicate, a gap or an extreme.
func (g *fuzzGen) version(next int64) int32 {
	switch v := g.pick(13); v {
	case 0, 1, 2, 3, 4:
		return int32(next)
	case 5:
		return int32(next + 1)
	case 6:
		return int32(next - 1)
	default:
		return fuzzVersions[v-7]
	}
}

func (g *fuzzGen) content() []byte {
	switch g.pick(4) {
	case 0:
		return g.take(15)
	case 1:
		return nil
	case 2:
		// A small plain flowdoc: codec 0, five segments, flowContents {}.
		return []byte{0, 0, 2, '{', '}', 0, 0, 0}
	}
	return []byte(strings.Repeat("c", 2000+g.pick(3)*1000))
}

// fuzzNextVersion reads the number the next version of flowID would get.
func fuzzNextVersion(t *testing.T, s *Store, flowID string) int64 {
	var n int64 = 1
	err := s.Read(func(tx *Tx) error {
		f, ok, err := tx.Flow(flowID)
		if ok {
			n = f.VersionCount + 1
		}
		return err
	})
	if err != nil {
		t.Fatalf("read flow: %v", err)
	}
	return n
}

// command builds one command of type typ from the input.
func (g *fuzzGen) command(t *testing.T, a *Store, typ command.Type) command.Command {
	switch typ {
	case command.TypeCreateBucket:
		return &command.CreateBucket{ID: g.id(), Name: g.name(), Description: g.optText(), Created: g.i64(),
			AllowBundleRedeploy: g.flag(), AllowPublicRead: g.flag(), Rev: g.claim(), Actor: g.actor()}
	case command.TypeUpdateBucket:
		return &command.UpdateBucket{ID: g.existing(fuzzViewOf(t, a).buckets), Name: g.optName(), Description: g.optText(),
			AllowBundleRedeploy: g.optFlag(), AllowPublicRead: g.optFlag(), Rev: g.claim(), Actor: g.actor()}
	case command.TypeDeleteBucket:
		return &command.DeleteBucket{ID: g.existing(fuzzViewOf(t, a).buckets), Rev: g.claim(), Actor: g.actor()}
	case command.TypeCreateFlow:
		return &command.CreateFlow{BucketID: g.existing(fuzzViewOf(t, a).buckets), ID: g.id(), Name: g.name(), Description: g.optText(),
			Created: g.i64(), Modified: g.i64(), Rev: g.claim(), Actor: g.actor()}
	case command.TypeUpdateFlow:
		bucketID, flowID := g.flowRef(fuzzViewOf(t, a))
		return &command.UpdateFlow{BucketID: bucketID, ID: flowID, Name: g.optName(), Description: g.optText(),
			Modified: g.i64(), Rev: g.claim(), Actor: g.actor()}
	case command.TypeDeleteFlow:
		bucketID, flowID := g.flowRef(fuzzViewOf(t, a))
		return &command.DeleteFlow{BucketID: bucketID, ID: flowID, Rev: g.claim(), Actor: g.actor()}
	case command.TypeCreateVersion:
		bucketID, flowID := g.flowRef(fuzzViewOf(t, a))
		return &command.CreateVersion{BucketID: bucketID, FlowID: flowID, Version: g.version(fuzzNextVersion(t, a, flowID)),
			Timestamp: g.i64(), Author: g.actor(), Comments: g.optText(), Modified: g.i64(), Content: g.content()}
	case command.TypeSetMaintenance:
		// Maintenance freezes the registry: switch it on rarely.
		return &command.SetMaintenance{On: g.pick(16) == 0, Reason: g.text(), By: g.actor(), At: g.i64()}
	case command.TypeSetNode:
		return &command.SetNode{ID: g.id(), APIURL: fuzzAPIURLs[g.pick(len(fuzzAPIURLs))], RaftAddr: g.text(),
			Zone: fuzzZones[g.pick(len(fuzzZones))], At: g.i64(), Level: fuzzLevels[g.pick(len(fuzzLevels))]}
	case command.TypeRemoveNode:
		return &command.RemoveNode{ID: g.id()}
	case command.TypeSetDRRole:
		roles := []string{command.RolePrimary, command.RoleStandby, command.RoleFenced, "", "other"}
		var primary []string
		if g.flag() {
			primary = []string{fuzzAPIURLs[g.pick(len(fuzzAPIURLs))]}
		}
		return &command.SetDRRole{Role: roles[g.pick(len(roles))], Epoch: int64(g.pick(4)) - 1, Primary: primary,
			Index: uint64(g.pick(40)), Reset: g.flag(), At: g.i64(), By: g.actor()}
	case command.TypeDRApply:
		// A primary's entries: registry commands (and sometimes member
		// records, DR commands or bytes that do not decode) at rising
		// indexes from around the standby's.
		var idx []uint64
		var data [][]byte
		next := uint64(g.pick(20))
		for n := g.pick(4); n > 0; n-- {
			next += uint64(1 + g.pick(3))
			idx = append(idx, next)
			switch g.pick(8) {
			case 0:
				data = append(data, []byte{command.FormatVersion, 99, 0})
			case 1:
				data = append(data, fuzzEncode(t, &command.SetNode{ID: g.id(), APIURL: "http://p", Level: 1}))
			default:
				data = append(data, fuzzEncode(t, g.command(t, a, command.Type(1+g.pick(int(command.TypeCreateVersion))))))
			}
		}
		c := command.NewDRApply(idx, data, next+uint64(g.pick(2)), g.i64())
		if g.pick(16) == 0 && len(c.Lens) > 0 {
			c.Lens[0]++ // a blob that does not match its lengths
		}
		return c
	case command.TypeStageBundleChunk, command.TypeCreateBundleVersion, command.TypeDeleteBundleVersion, command.TypeDeleteBundle,
		command.TypeCreateBundleFileVersion:
		return g.bundleCommand(t, a, typ)
	}
	panic(fmt.Sprintf("no generator for %s", typ))
}

// fuzzHooks are hook names: two plain ones, an empty and an oversized one.
var fuzzHooks = []string{"h1", "h2", "", strings.Repeat("h", 201)}

// eventCommand is an outbox command: cursors and dead letters around the
// events recorded so far (ids are small), retries, compaction.
func (g *fuzzGen) eventCommand() command.Command {
	hook := func() string { return fuzzHooks[g.pick(len(fuzzHooks))] }
	id := func() uint64 { return uint64(g.pick(12)) }
	switch g.pick(5) {
	case 0, 1:
		return &command.StartEvents{}
	case 2:
		c := &command.HooksProgress{}
		for n := g.pick(3); n > 0; n-- {
			c.Cursors = append(c.Cursors, command.HookCursor{Hook: hook(), Through: id()})
		}
		for n := g.pick(3); n > 0; n-- {
			c.Dead = append(c.Dead, command.DeadEvent{Hook: hook(), Event: id(), Attempts: g.pick(9), Error: g.text(), At: g.i64()})
		}
		if g.flag() {
			c.Cleared = append(c.Cleared, command.DeadEvent{Hook: hook(), Event: id()})
		}
		return c
	case 3:
		c := &command.RetryDead{Hook: hook(), By: g.actor()}
		for n := g.pick(3); n > 0; n-- {
			c.Events = append(c.Events, id())
		}
		return c
	}
	return &command.CompactEvents{Before: id()}
}

// Bundle contents the generator uploads, and the uploads they go under.
var (
	fuzzBundleContents = [][]byte{[]byte("PK-one"), []byte("PK-second content"), []byte("x")}
	fuzzUploads        = []string{"u1", "u2", "", strings.Repeat("u", 51)}
	fuzzGAVs           = []command.BundleCoordinate{{Group: "g", Artifact: "a", Version: "1"}, {Group: "g", Artifact: "a", Version: "2-SNAPSHOT"},
		{Group: "g", Artifact: "b", Version: "1"}, {Group: "", Artifact: "a", Version: "1"}, {Group: "g", Artifact: "a", Version: strings.Repeat("v", 501)}}
	fuzzExtensions = []string{``, `[{"name":"P","type":"PROCESSOR","tags":["t"]}]`, `{"not":"an array"}`, `[{"name":"","type":"PROCESSOR"}]`,
		`[{"name":"P","type":"GADGET"}]`, `null`}
)

func fuzzSHA(b []byte) string {
	h := sha256.Sum256(b)
	return fmt.Sprintf("%x", h)
}

// fuzzStaged reads how many bytes of an upload are staged.
func fuzzStaged(t *testing.T, s *Store, upload string) int64 {
	var n int64
	err := s.Read(func(tx *Tx) error {
		if raw := tx.b([]byte("x.stage")).Get([]byte(upload)); raw != nil {
			var st struct {
				Staged int64 `json:"staged"`
			}
			err := json.Unmarshal(raw, &st)
			n = st.Staged
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read stage: %v", err)
	}
	return n
}

// bundleCommand builds bundle commands that mostly make progress: chunks
// at the staged offset of a known content, versions of staged or stored
// content in stored buckets, deletes of stored bundles.
func (g *fuzzGen) bundleCommand(t *testing.T, a *Store, typ command.Type) command.Command {
	content := fuzzBundleContents[g.pick(len(fuzzBundleContents))]
	sha := fuzzSHA(content)
	switch g.pick(8) {
	case 0:
		sha = strings.ToUpper(sha)
	case 1:
		sha = fuzzSHA(fuzzBundleContents[0])
	}
	upload := fuzzUploads[g.pick(len(fuzzUploads))]
	size := int64(len(content))
	if g.pick(8) == 0 {
		size = g.i64()
	}
	var bundleIDs []string
	err := a.Read(func(tx *Tx) error {
		return tx.b([]byte("x.bundles")).ForEach(func(k, _ []byte) error {
			bundleIDs = append(bundleIDs, string(k))
			return nil
		})
	})
	if err != nil {
		t.Fatalf("read bundles: %v", err)
	}
	switch typ {
	case command.TypeStageBundleChunk:
		off := fuzzStaged(t, a, upload)
		if g.pick(4) == 0 {
			off = g.i64()
		}
		end := off + 1 + int64(g.pick(len(content)))
		if off < 0 || off >= int64(len(content)) || end > int64(len(content)) {
			return &command.StageBundleChunk{Upload: upload, SHA256: sha, Size: size, Off: off, At: g.i64(), Data: g.take(3)}
		}
		return &command.StageBundleChunk{Upload: upload, SHA256: sha, Size: size, Off: off, At: g.i64(), Data: content[off:end]}
	case command.TypeCreateBundleVersion, command.TypeCreateBundleFileVersion:
		types := []string{command.BundleNAR, command.BundleMiNiFiCpp, "jar"}
		c := &command.CreateBundleVersion{BucketID: g.existing(fuzzViewOf(t, a).buckets), BundleID: g.id(), VersionID: g.id(),
			BundleType: types[g.pick(len(types))], Coordinate: fuzzGAVs[g.pick(len(fuzzGAVs))], Upload: upload, SHA256: sha,
			Size: size, SystemAPIVersion: g.text(), Build: command.BundleBuild{Tool: g.text(), Built: g.i64()},
			Extensions: []byte(fuzzExtensions[g.pick(len(fuzzExtensions))]), Timestamp: g.i64(), Author: g.actor()}
		if g.flag() {
			c.AdditionalDetails = map[string]string{[]string{"P", "Q", ""}[g.pick(3)]: g.text()}
		}
		if typ == command.TypeCreateBundleFileVersion {
			return &command.CreateBundleFileVersion{CreateBundleVersion: *c}
		}
		return c
	case command.TypeDeleteBundleVersion:
		return &command.DeleteBundleVersion{BundleID: g.existing(bundleIDs), Version: fuzzGAVs[g.pick(len(fuzzGAVs))].Version, Actor: g.actor()}
	}
	return &command.DeleteBundle{BundleID: g.existing(bundleIDs), Actor: g.actor()}
}

func (g *fuzzGen) knownType() command.Type {
	// DR commands rarely: a standby or fenced role refuses the registry
	// writes the rest of the run is for.
	if g.pick(32) == 0 {
		return []command.Type{command.TypeSetDRRole, command.TypeDRApply}[g.pick(2)]
	}
	return command.Type(1 + g.pick(int(command.TypeRemoveNode)))
}

func fuzzEncode(t *testing.T, c command.Command) []byte {
	t.Helper()
	b, err := command.Encode(c)
	if err != nil {
		t.Fatalf("encode %s: %v", c.Type(), err)
	}
	return b
}

// fuzzJSONStr is s as a JSON string (invalid UTF-8 becomes U+FFFD).
func fuzzJSONStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// rawHeader is a JSON header Encode would never write: wrong shapes and
// types, duplicate and differently cased members, raw invalid UTF-8.
func (g *fuzzGen) rawHeader() string {
	id, id2, name := fuzzJSONStr(g.id()), fuzzJSONStr(g.id()), fuzzJSONStr(g.name())
	switch g.pick(16) {
	case 0:
		return "null"
	case 1:
		return "[]"
	case 2:
		return "{}"
	case 3:
		return `"x"`
	case 4:
		return `{"id":` + id + `,"ID":` + id2 + `,"name":` + name + `}`
	case 5:
		return `{"id":1,"name":` + name + `}`
	case 6:
		return `{"id":` + id + `,"name":` + name + `,"rev":{"version":"1"}}`
	case 7:
		return `{"bucketId":` + id + `,"id":` + id2 + `,"name":` + name + `,"name":"n2"}`
	case 8:
		return `{"bucketId":` + id + `,"flowId":` + id2 + `,"version":4294967297}`
	case 9:
		return `{"bucketId":` + id + `,"flowId":` + id2 + `,"version":1e0}`
	case 10:
		return `{"bucketId":` + id + `,"flowId":` + id2 + `,"version":1}`
	case 11:
		return "{\"id\":\"\xff\xfe\",\"name\":\"\xc3\",\"bucketId\":\"\xed\xa0\x80\"}"
	case 12:
		return `{"id":"\ud800","name":"\u0000","bucketId":"\u0000"}`
	case 13:
		return `{"id":` + id + `,"name":` + name + `,"rev":null,"description":null} `
	case 14:
		return `{"id":` + id + `,"name":` + name + `,"rev":{"version":0,"clientId":null},"on":true}`
	}
	return `{"id":` + id + `,"name":` + name + `,"bucketId":` + id2 + `,"flowId":` + id2 + `,"version":1,"on":"yes"}`
}

// frame puts a header (and blob) behind a format and type byte with a
// header length that is right or off.
func (g *fuzzGen) frame(typ command.Type, hdr string, blob []byte) []byte {
	n := uint64(len(hdr))
	switch g.pick(8) {
	case 0:
		n++
	case 1:
		n--
	case 2:
		n = math.MaxUint64
	}
	b := []byte{command.FormatVersion, byte(typ)}
	b = binary.AppendUvarint(b, n)
	b = append(b, hdr...)
	return append(b, blob...)
}

// fuzzUnknown reports whether data is an entry a newer build wrote: an
// unknown format version or command type (at least three bytes, or it is
// merely malformed). This is the contract, written out independently of
// command.Decode.
func fuzzUnknown(data []byte) bool {
	if len(data) < 3 {
		return false
	}
	return data[0] != command.FormatVersion || data[1] == 0 || data[1] > byte(command.LastType)
}

// entry generates the data of one entry (nil: a configuration entry).
func (g *fuzzGen) entry(t *testing.T, a *Store) []byte {
	op := g.u8()
	switch op {
	case 0xFF: // from a newer build
		var b []byte
		switch g.pick(4) {
		case 0:
			b = []byte{command.FormatVersion + 1 + g.u8()%254, byte(g.knownType())}
		case 1:
			b = []byte{0, byte(g.knownType())}
		case 2:
			b = []byte{command.FormatVersion, byte(command.LastType) + 1 + g.u8()%byte(255-command.LastType)}
		default:
			b = []byte{command.FormatVersion, 0}
		}
		return append(b, 2, '{', '}')
	case 0xFE: // a Raft configuration change: advances the index only
		return nil
	case 0xFD, 0xFC, 0xFB: // the outbox and its hooks
		return fuzzEncode(t, g.eventCommand())
	}
	switch op % 16 {
	case 11: // garbage, kept within known format and types
		b := g.take(24)
		if fuzzUnknown(b) {
			b[0], b[1] = command.FormatVersion, byte(1+b[1]%byte(command.LastType))
		}
		return b
	case 12: // a hostile JSON header, maybe with a wrong length
		typ := g.knownType()
		var blob []byte
		if typ == command.TypeCreateVersion || g.pick(4) == 0 {
			blob = g.take(4)
		}
		return g.frame(typ, g.rawHeader(), blob)
	case 13: // one type's header under another type
		b := fuzzEncode(t, g.command(t, a, g.knownType()))
		b[1] = byte(g.knownType())
		return b
	case 14: // trailing bytes, or cut short
		b := fuzzEncode(t, g.command(t, a, g.knownType()))
		if g.flag() {
			return append(b, g.take(3)...)
		}
		return b[:g.pick(len(b))]
	case 15: // extension bundles
		typ := command.TypeStageBundleChunk + command.Type(g.pick(5))
		if typ > command.TypeDeleteBundle {
			typ = command.TypeCreateBundleFileVersion
		}
		return fuzzEncode(t, g.command(t, a, typ))
	case 10: // the commands the registry sends most
		return fuzzEncode(t, g.command(t, a, []command.Type{command.TypeCreateVersion, command.TypeCreateFlow, command.TypeCreateBucket}[g.pick(3)]))
	}
	return fuzzEncode(t, g.command(t, a, command.Type(1+op%16)))
}

// ---- the checks

// fuzzState is what an entry can change: the registry (its kept hash and
// counts), the member table (not part of the hash: compared by a digest of
// its raw entries) and the applied index.
type fuzzState struct {
	sum     Summary
	nodes   [sha256.Size]byte
	outbox  [sha256.Size]byte
	bundles [sha256.Size]byte
	applied uint64
}

func fuzzStateOf(t *testing.T, s *Store) fuzzState {
	t.Helper()
	var st fuzzState
	err := s.Read(func(tx *Tx) error {
		st.sum = tx.Summary()
		h := sha256.New()
		err := tx.b(tNodes).ForEach(func(k, v []byte) error {
			writeKV(h, k, v)
			return nil
		})
		h.Sum(st.nodes[:0])
		if err != nil {
			return err
		}
		// The outbox: its events, cursors and dead letters.
		h = sha256.New()
		for _, name := range events.Tables {
			if err := tx.b(name).ForEach(func(k, v []byte) error {
				writeKV(h, k, v)
				return nil
			}); err != nil {
				return err
			}
		}
		h.Sum(st.outbox[:0])
		// The bundle tables are outside the state hash: digested whole,
		// chunks (nested buckets) included.
		h.Reset()
		for _, name := range bundles.Tables {
			fuzzDigestBucket(h, tx.b(name))
		}
		h.Sum(st.bundles[:0])
		return nil
	})
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	st.applied = s.AppliedIndex()
	return st
}

func fuzzDigestBucket(h hash.Hash, b *bolt.Bucket) {
	b.ForEach(func(k, v []byte) error {
		writeKV(h, k, v)
		if v == nil {
			fuzzDigestBucket(h, b.Bucket(k))
		}
		return nil
	})
}

// fuzzCheckResult requires a result to be a success or a *model.Error.
func fuzzCheckResult(t *testing.T, where any, r Result) {
	t.Helper()
	var me *model.Error
	if r.Err != nil && !errors.As(r.Err, &me) {
		t.Fatalf("%v: refusal is not a *model.Error: %T %v", where, r.Err, r.Err)
	}
}

func fuzzSameResult(x, y Result) bool {
	if (x.Err == nil) != (y.Err == nil) {
		return false
	}
	if x.Err != nil {
		var mx, my *model.Error
		if !errors.As(x.Err, &mx) || !errors.As(y.Err, &my) || *mx != *my {
			return false
		}
	}
	return reflect.DeepEqual(x.Value, y.Value)
}

// fuzzCheckUnknown checks Apply's answer to a batch whose entry at u is
// unknown: results for the prefix only and an *UnknownCommandError naming
// that entry.
func fuzzCheckUnknown(t *testing.T, where any, batch []Entry, u int, res []Result, err error) {
	t.Helper()
	var uc *UnknownCommandError
	if !errors.As(err, &uc) || !errors.Is(err, command.ErrUnknown) {
		t.Fatalf("%v: entry %d (%x) is unknown, Apply returned %T %v", where, batch[u].Index, batch[u].Data, err, err)
	}
	if uc.Index != batch[u].Index {
		t.Fatalf("%v: UnknownCommandError names entry %d, want %d", where, uc.Index, batch[u].Index)
	}
	if len(res) != u {
		t.Fatalf("%v: %d results before the unknown entry, want %d", where, len(res), u)
	}
}

// fuzzEntryRef names an entry in a failure message.
type fuzzEntryRef struct{ e Entry }

func (r fuzzEntryRef) String() string {
	return fmt.Sprintf("A, entry %d [%s]", r.e.Index, fuzzDescribe(r.e.Data))
}

func fuzzDescribe(data []byte) string {
	if data == nil {
		return "config entry"
	}
	c, err := command.Decode(data)
	if err != nil {
		return fmt.Sprintf("%.64x (%v)", data, err)
	}
	hdr, _ := json.Marshal(c)
	s := fmt.Sprintf("%s %s", c.Type(), hdr)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func fuzzRunApply(t *testing.T, a, b *Store, data []byte) {
	g := &fuzzGen{b: data}
	var (
		idx     uint64
		prev    []Entry // B's previous batch, for replays
		entries int
	)
	for g.more() && entries < fuzzMaxEntries {
		size := g.u8()
		n := 1 + int(size)%fuzzMaxBatch
		var batch []Entry
		var resA []Result
		unknown := -1
		for len(batch) < n && entries < fuzzMaxEntries && (len(batch) == 0 || g.more()) {
			idx++
			entries++
			e := Entry{Index: idx, Data: g.entry(t, a)}
			batch = append(batch, e)
			if unknown >= 0 {
				continue // A stopped: a real replica halts here
			}
			before := fuzzStateOf(t, a)
			res, err := a.Apply([]Entry{e})
			after := fuzzStateOf(t, a)
			where := fuzzEntryRef{e} // described only when a check fails
			if fuzzUnknown(e.Data) {
				fuzzCheckUnknown(t, where, []Entry{e}, 0, res, err)
				if !reflect.DeepEqual(before, after) {
					t.Fatalf("%v: stopping before an unknown entry changed the state:\n%+v\n%+v", where, before, after)
				}
				unknown = len(batch) - 1
				continue
			}
			if err != nil {
				t.Fatalf("%v: Apply failed (a client input must never do this): %T %v", where, err, err)
			}
			if len(res) != 1 {
				t.Fatalf("%v: %d results", where, len(res))
			}
			fuzzCheckResult(t, where, res[0])
			if after.applied != e.Index {
				t.Fatalf("%v: applied index %d", where, after.applied)
			}
			if res[0].Err != nil || e.Data == nil {
				after.applied = before.applied
				if !reflect.DeepEqual(before, after) {
					t.Fatalf("%v: refused with %q but changed the state:\nbefore %+v\nafter  %+v", where, res[0].Err, before, after)
				}
			}
			if fuzzTrace {
				t.Logf("%v -> %v %T", where, res[0].Err, res[0].Value)
			}
			resA = append(resA, res[0])
		}

		// B: the same entries in one batch, sometimes behind a replay of
		// the previous batch (entries at or below the applied index are
		// skipped as already applied).
		send := batch
		replayed := 0
		if size >= 0xC0 && prev != nil {
			send = append(append([]Entry(nil), prev...), batch...)
			replayed = len(prev)
		}
		before := fuzzStateOf(t, b)
		res, err := b.Apply(send)
		if fuzzTrace {
			t.Logf("B: %d entries (%d replayed): %v", len(send), replayed, err)
		}
		where := fmt.Sprintf("B, batch of entries %d-%d", send[0].Index, send[len(send)-1].Index)
		if unknown >= 0 {
			fuzzCheckUnknown(t, where, send, replayed+unknown, res, err)
		} else if err != nil {
			t.Fatalf("%v: Apply failed (a client input must never do this): %T %v", where, err, err)
		} else if len(res) != len(send) {
			t.Fatalf("%v: %d results for %d entries", where, len(res), len(send))
		}
		for i := 0; i < replayed; i++ {
			if res[i].Err != errAlreadyApplied {
				t.Fatalf("%v: replayed entry %d: got %v, want it skipped", where, send[i].Index, res[i].Err)
			}
		}
		for i, r := range res[replayed:] {
			fuzzCheckResult(t, where, r)
			if !fuzzSameResult(r, resA[i]) {
				t.Fatalf("%v: entry %d [%s]: batched result %+v, alone %+v", where, batch[i].Index, fuzzDescribe(batch[i].Data), r, resA[i])
			}
		}
		if unknown >= 0 {
			wantApplied := before.applied
			if unknown > 0 {
				wantApplied = batch[unknown-1].Index
			}
			if got := b.AppliedIndex(); got != wantApplied {
				t.Fatalf("%v: applied index %d after stopping at entry %d, want %d", where, got, batch[unknown].Index, wantApplied)
			}
			// The entry is never skipped: sending the batch again stops
			// at it again and changes nothing.
			mid := fuzzStateOf(t, b)
			res, err := b.Apply(send)
			fuzzCheckUnknown(t, where+" (again)", send, replayed+unknown, res, err)
			for i, r := range res {
				if r.Err != errAlreadyApplied {
					t.Fatalf("%v (again): entry %d: got %v, want it skipped", where, send[i].Index, r.Err)
				}
			}
			if again := fuzzStateOf(t, b); !reflect.DeepEqual(mid, again) {
				t.Fatalf("%v: re-sending a batch that stops changed the state", where)
			}
		}
		sa, sb := fuzzStateOf(t, a), fuzzStateOf(t, b)
		if !reflect.DeepEqual(sa, sb) {
			t.Fatalf("after %s: one by one and batched differ:\nA %+v\nB %+v", where, sa, sb)
		}
		if _, _, err := b.RecomputedStateHash(); err != nil {
			t.Fatalf("after %s: %v", where, err)
		}
		if unknown >= 0 {
			break // the replica must stop and be upgraded
		}
		prev = batch
	}
	hashA, _, err := a.RecomputedStateHash()
	if err != nil {
		t.Fatal(err)
	}
	hashB, _, err := b.StateHash()
	if err != nil || hashA != hashB {
		t.Fatalf("final hashes differ: %s %s %v", hashA, hashB, err)
	}
}

// ---- seeds

// fuzzApplySeeds are inputs for the generator above: byte choices in the
// order it reads them. Each starts with a batch size byte.
func fuzzApplySeeds() [][]byte {
	const (
		b1, b2, f1, f2, x = 0, 1, 2, 3, 4 // fuzzIDs, for new ids
		emptyID           = 0xC0          // fuzzHostileIDs[0]
		longID            = 0xC0 + 10     // over the key limit
		n1, n2            = 0, 1          // fuzzNames
		blank             = 0xC1          // " "
		noClaim           = 0
		noText            = 0
		own               = 0 // a flow's own bucket
	)
	// Op bytes 0-9 are the command types minus one. Buckets and flows
	// to update, delete or commit to are stored ones, by index in key
	// order ("b1" < "b2", "f1" < "f2").
	cb := func(id, name byte) []byte { return []byte{0, id, name, noText, 0, 0, 0, noClaim, 0} }
	ub := func(bucket byte, name byte) []byte { return []byte{1, bucket, 0x50, name, noText, 0, 0, noClaim, 0} }
	db := func(bucket byte) []byte { return []byte{2, bucket, noClaim, 0} }
	cf := func(bucket, id, name byte) []byte { return []byte{3, bucket, id, name, noText, 1, 1, noClaim, 0} }
	uf := func(flow, name byte) []byte { return []byte{4, flow, own, 0x50, name, noText, 2, noClaim, 0} }
	df := func(flow byte) []byte { return []byte{5, flow, own, noClaim, 0} }
	// Version choice 0 = the next one, 5 = one past it; content choice
	// 2 = a small flowdoc.
	const next, gap = 0, 5
	cv := func(flow, version byte) []byte { return []byte{6, flow, own, version, 5, 0, noText, 5, 2} }
	maint := func(on bool) []byte {
		v := byte(1)
		if on {
			v = 0
		}
		return []byte{7, v, 1, 0, 1}
	}
	setNode := []byte{8, x, 1, 1, 1, 1, 1}
	rmNode := []byte{9, x}
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	batch := func(size byte, ops ...[]byte) []byte { return append([]byte{size - 1}, cat(ops...)...) }
	return [][]byte{
		// The poison pill: a bucket with an empty id, then a normal write.
		batch(2, cb(emptyID, n1), cb(b1, n1)),
		batch(1, cb(longID, n1)),
		// Every command type.
		cat(
			batch(4, cb(b1, n1), cb(b2, n2), cf(0, f1, n1), cv(0, next)),
			batch(4, cv(0, next), cv(0, gap), uf(0, n2), ub(0, n2)),
			batch(3, setNode, maint(true), cb(x, n1)),
			batch(4, maint(false), rmNode, df(0), db(0)),
		),
		// Collisions, renames onto taken names, a cascade delete.
		cat(
			batch(8, cb(b1, n1), cb(b1, n2), cb(b2, n1), cb(b2, n2), cf(0, f1, n1), cf(0, f2, n1), cf(1, f1, n1), uf(0, blank)),
			batch(2, ub(0, blank), ub(1, blank)),
			batch(3, cv(0, next), cv(0, next), db(0)),
			batch(2, cf(0, f1, n1), cv(0, next)),
		),
		// The outbox: started, changes with events, a hook's progress
		// and dead letter, a retry, compaction, cursors past the end.
		cat(
			batch(4, []byte{0xFD, 0}, cb(b1, n1), cf(0, f1, n1), cv(0, next)),
			batch(4, []byte{0xFD, 2, 1, 0, 2, 1, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{0xFD, 3, 0, 0, 1, 1}, []byte{0xFD, 4, 2}, db(0)),
			batch(2, []byte{0xFD, 2, 1, 0, 11, 0, 0}, []byte{0xFD, 4, 11}),
		),
		// A replay (size byte >= 0xC0) and an unknown entry mid-batch.
		cat(batch(2, cb(b1, n1), cf(0, f1, n1)), []byte{0xC0 + 3}, cv(0, next), []byte{0xFF, 0, 0, 0}, cb(b2, n2)),
		// A bundle: content staged in two chunks, a version of it, a
		// second version of the same content (deduplicated), a chunk
		// out of order, a chunk under the committed upload's id, the
		// versions deleted, then the bundle.
		// Op 15: the type (0 stage, 1 create, 2 delete version, 3
		// delete bundle), then content, SHA-256 and upload choices
		// (2 = unchanged), size choice (2 = the content's).
		cat(
			batch(3, cb(b1, n1),
				[]byte{15, 0, 1, 2, 0, 2, 1, 3, 7},
				[]byte{15, 0, 1, 2, 0, 2, 1, 12, 8}),
			batch(2,
				[]byte{15, 1, 1, 2, 0, 2, 0, x, b1, 0, 0, 0, 0, 0, 1, 5, 0, 0},
				[]byte{15, 1, 1, 2, 1, 2, 0, x, b2, 0, 1, 0, 0, 0, 1, 5, 0, 0}),
			batch(4,
				[]byte{15, 0, 0, 2, 1, 2, 0, 3, 0, 9},
				[]byte{15, 0, 0, 2, 0, 2, 1, 3, 9}, // under u1 again, after its commit
				[]byte{15, 2, 0, 2, 0, 2, 0, 0},
				[]byte{15, 3, 0, 2, 0, 2, 0}),
		),
		// Garbage, hostile headers, type confusion, truncation.
		batch(4, []byte{11, 6, 1, 1, 3, '{', '}', '}'}, []byte{12, 0, 1, 0, 0, 0, 4, 3},
			[]byte{13, 0, b1, n1, 0, 0, 0, 0, 0, 0, 2}, []byte{14, 0, b1, n1, 0, 0, 0, 0, 0, 0, 1, 2, 'x', 'y'}),
	}
}
