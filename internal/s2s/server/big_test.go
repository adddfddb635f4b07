package server_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net/http/httputil"
	"runtime"
	"testing"

	"github.com/weir-nifi/weir/internal/s2s/codec"
)

// source generates n deterministic bytes without holding them.
type source struct {
	n, off int64
	x      uint64
}

func (s *source) Read(p []byte) (int, error) {
	if s.off >= s.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.n-s.off)]
	var word [8]byte
	for i := 0; i < len(p); i += 8 {
		s.x ^= s.x << 13
		s.x ^= s.x >> 7
		s.x ^= s.x << 17
		// Eight letters a–p: compressible, not trivially.
		binary.LittleEndian.PutUint64(word[:], s.x&0x0f0f0f0f0f0f0f0f+0x6161616161616161)
		copy(p[i:], word[:])
	}
	s.off += int64(len(p))
	return len(p), nil
}

// A 100 MB flowfile streams through the server in bounded memory: the
// whole process (client and server) allocates a small fraction of it.
func TestPush100MB(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB")
	}
	for _, compress := range []bool{false, true} {
		size := int64(100 << 20)
		if compress && raceBuild {
			size = 20 << 20 // deflate under the race detector is slow; 100 MB is run without it
		}
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			e := newEnv(t, envOpts{})
			e.store.DigestOnly = true
			c := newRawClient(t, e, false, compress)
			_, _, loc := c.create("input-ports", inPort)

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)

			conn, br := c.txConn()
			lines := append([]string{"Content-Type: application/octet-stream", "Accept: text/plain"}, c.lines("", true)[1:]...)
			c.writeHead(conn, "POST", c.target(loc, "/flow-files"), lines, chunkedStream, true)
			chunked := httputil.NewChunkedWriter(conn)
			var out io.Writer = chunked
			var cw *codec.CompressionWriter
			if compress {
				cw = codec.NewCompressionWriter(chunked)
				out = cw
			}
			crc := crc32.NewIEEE()
			digest := sha256.New()
			w := io.MultiWriter(out, crc)
			hdr := binary.BigEndian.AppendUint32(nil, 1)
			hdr = binary.BigEndian.AppendUint32(hdr, 8)
			hdr = append(hdr, "filename"...)
			hdr = binary.BigEndian.AppendUint32(hdr, 7)
			hdr = append(hdr, "big.bin"...)
			hdr = binary.BigEndian.AppendUint64(hdr, uint64(size))
			w.Write(hdr)
			buf := make([]byte, 32<<10)
			if _, err := io.CopyBuffer(io.MultiWriter(w, digest), &source{n: size, x: 88172645463325252}, buf); err != nil {
				t.Fatal(err)
			}
			if cw != nil {
				if err := cw.Close(); err != nil {
					t.Fatal(err)
				}
			}
			chunked.Close()
			io.WriteString(conn, "\r\n")
			resp, b := c.read(br, "POST")

			runtime.ReadMemStats(&after)
			if resp.StatusCode != 202 || string(b) != codec.FormatChecksum(crc.Sum32()) {
				t.Fatalf("%d %q", resp.StatusCode, b)
			}
			grew := after.TotalAlloc - before.TotalAlloc
			if grew > 32<<20 {
				t.Fatalf("streaming %d MiB allocated %d MiB", size>>20, grew>>20)
			}
			t.Logf("%d MiB pushed; the process allocated %.1f MiB meanwhile", size>>20, float64(grew)/(1<<20))
			resp, b = c.end(loc, "responseCode=12")
			expectResult(t, resp, b, 200, 13)
			got := e.store.Committed(inPort)
			if len(got) != 1 || got[0].Size != size || got[0].SHA256 != [32]byte(digest.Sum(nil)) || got[0].Attributes["filename"] != "big.bin" {
				t.Fatalf("committed %d flowfiles, size %d", len(got), got[0].Size)
			}
			e.settled()
		})
	}
}
