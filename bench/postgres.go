package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a throwaway PostgreSQL cluster: initdb in the run
// directory, one postmaster on a free loopback port, fsync=on and
// synchronous_commit=on (the defaults, set explicitly so a site
// postgresql.conf cannot change them), everything else default.
type Postgres struct {
	Dir  string
	Port int
	DSN  string
	Proc *Proc
}

// FindPGBin locates PostgreSQL 15's bin directory: $PG_BIN, Debian's
// /usr/lib/postgresql/15/bin, or the directory of initdb on PATH.
func FindPGBin() (string, error) {
	cands := []string{os.Getenv("PG_BIN"), "/usr/lib/postgresql/15/bin"}
	if p, err := exec.LookPath("initdb"); err == nil {
		cands = append(cands, filepath.Dir(p))
	}
	for _, d := range cands {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL 15 not found (apt-get install -y postgresql-15, or set PG_BIN)")
}

// pgCred is the user postgres runs as: the "postgres" account when we are
// root (postgres refuses to run as root), nobody else otherwise.
func pgCred() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// StartPostgres creates and starts a cluster and the benchmark table.
func (e *Env) StartPostgres(ctx context.Context) (*Postgres, error) {
	if e.PGBin == "" {
		d, err := FindPGBin()
		if err != nil {
			return nil, err
		}
		e.PGBin = d
	}
	cred, err := pgCred()
	if err != nil {
		return nil, err
	}
	dir, err := e.Dir("pg")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(e.PGBin, "initdb"), "-D", data, "-U", "bench",
		"--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := FreePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	p, err := e.Start(ProcSpec{Name: "postgres", Bin: filepath.Join(e.PGBin, "postgres"), Cred: cred, Dir: dir,
		Args: []string{"-D", data, "-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + dir,
			"-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "max_connections=100"}})
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Dir: dir, Port: port, Proc: p,
		DSN: fmt.Sprintf("postgres://bench@127.0.0.1:%d/postgres?sslmode=disable", port)}
	err = poll(60*time.Second, 50*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("postgres exited: %s", p.Tail(2000))
		}
		c, err := pgx.Connect(ctx, pg.DSN)
		if err != nil {
			return false, err
		}
		defer c.Close(ctx)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	c, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, `CREATE TABLE versions (
		flow_id text NOT NULL,
		version integer NOT NULL,
		content bytea NOT NULL,
		PRIMARY KEY (flow_id, version))`)
	return pg, err
}

// Setting reads a server setting (SHOW name).
func (pg *Postgres) Setting(ctx context.Context, name string) (string, error) {
	c, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	var v string
	err = c.QueryRow(ctx, "SHOW "+name).Scan(&v)
	return v, err
}

// Inserter is one client connection inserting versions of its own flow,
// each INSERT in its own transaction (autocommit), prepared once.
type Inserter struct {
	conn *pgx.Conn
	flow string
}

const insertSQL = "INSERT INTO versions (flow_id, version, content) VALUES ($1, $2, $3)"

// Inserters opens n connections.
func (pg *Postgres) Inserters(ctx context.Context, n int, prefix string) ([]*Inserter, error) {
	out := make([]*Inserter, n)
	for i := range out {
		c, err := pgx.Connect(ctx, pg.DSN)
		if err != nil {
			return nil, err
		}
		if _, err := c.Prepare(ctx, "ins", insertSQL); err != nil {
			return nil, err
		}
		out[i] = &Inserter{conn: c, flow: fmt.Sprintf("%s-%03d", prefix, i)}
	}
	return out, nil
}

// Insert stores version v of the connection's flow.
func (in *Inserter) Insert(ctx context.Context, v int, content []byte) error {
	_, err := in.conn.Exec(ctx, "ins", in.flow, v, content)
	return err
}

// Close closes the connection.
func (in *Inserter) Close() { _ = in.conn.Close(context.Background()) }

// Count returns the number of rows in versions.
func (pg *Postgres) Count(ctx context.Context) (int, error) {
	c, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	var n int
	err = c.QueryRow(ctx, "SELECT count(*) FROM versions").Scan(&n)
	return n, err
}

// Stop shuts the postmaster down (SIGINT: fast shutdown).
func (pg *Postgres) Stop() {
	if pg.Proc.Exited() {
		return
	}
	_ = pg.Proc.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-pg.Proc.Done():
	case <-time.After(30 * time.Second):
		pg.Proc.Kill()
	}
}
