package bench

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// ServeFiles is the reference server of measurement c: net/http's
// FileServer over dir, nothing else. cmd/weirbench runs it as a process of
// its own (`weirbench serve-files`).
func ServeFiles(dir, listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// FileServer is a running `weirbench serve-files` process.
type FileServer struct {
	Dir  string
	URL  string
	Proc *Proc
}

// StartFileServer writes files (name → content) into a new directory and
// serves it from a separate process.
func (e *Env) StartFileServer(files map[string][]byte) (*FileServer, error) {
	if err := e.BuildSelf(); err != nil {
		return nil, err
	}
	dir, err := e.Dir("files")
	if err != nil {
		return nil, err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	port, err := FreePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := e.Start(ProcSpec{Name: "fileserver", Bin: e.SelfBin, Args: []string{"serve-files", "--dir", dir, "--listen", addr}})
	if err != nil {
		return nil, err
	}
	fs := &FileServer{Dir: dir, URL: "http://" + addr, Proc: p}
	err = poll(30*time.Second, 10*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, errors.New("file server exited: " + p.Tail(2000))
		}
		resp, err := ctlClient.Get(fs.URL + "/")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return true, nil
	})
	return fs, err
}
