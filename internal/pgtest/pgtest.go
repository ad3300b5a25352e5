// Package pgtest runs a throw-away PostgreSQL server for the tests of one test binary:
// real PostgreSQL, no mocks. The server is started on first use (initdb into a temporary
// directory, postgres on a free loopback port) and stopped by Main when the tests end;
// each test gets its own empty database.
//
//	var pg = pgtest.New()
//
//	func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }
//
//	func TestX(t *testing.T) {
//		dsn := pg.Database(t) // postgres://…, dropped when t ends
//	}
//
// Guarantees and pitfalls:
//   - Durability is PostgreSQL's default: fsync and synchronous_commit are on, so what
//     tests and benchmarks measure is a durable commit. (initdb runs with --no-sync: the
//     files it writes are flushed by the server's first checkpoint.)
//   - Run as root, initdb and postgres run as the unprivileged "postgres" user (Debian's
//     postgresql package creates it); the temporary directory is handed to that user.
//     PostgreSQL refuses to run as root.
//   - The binaries are looked up in /usr/lib/postgresql/<version>/bin (the newest
//     version), then in PATH. When they are absent Database skips the test, unless the
//     environment sets APFLOW_REQUIRE_PG (CI does), in which case it fails it.
//   - postgres gets SIGQUIT if the test binary dies, so a crashed test run leaves no
//     server behind (its temporary directory stays).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequireEnv is the environment variable that turns a missing PostgreSQL into a test
// failure instead of a skip.
const RequireEnv = "APFLOW_REQUIRE_PG"

// startTimeout bounds initdb plus the server's start-up.
const startTimeout = 2 * time.Minute

// Server is one PostgreSQL server shared by the tests of a test binary. The zero value is
// not usable; call New. Its methods are safe for concurrent use.
type Server struct {
	once     sync.Once
	skip     string // why there is no server, when the binaries are absent
	err      error  // why the server could not start
	dir      string // temporary directory: data/, sock/, postgres.log
	port     int
	bin      string              // directory of the server's binaries
	cred     *syscall.Credential // the user the server runs as (nil: ours)
	proc     *os.Process
	exited   chan struct{} // closed when postgres exits
	exitErr  error         // postgres's exit status, valid once exited is closed
	admin    *pgx.Conn
	adminMu  sync.Mutex
	dbSeq    atomic.Int64
	stopOnce sync.Once
	stopErr  error
}

// New returns a server that starts on the first call of Database.
func New() *Server { return &Server{} }

// Main runs the tests and stops the server if a test started it. It returns the exit
// status for os.Exit.
func (s *Server) Main(m *testing.M) int {
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Database creates an empty database for t and returns its connection string
// (postgres://…). The database is dropped when t ends. Without PostgreSQL binaries t is
// skipped, or failed when APFLOW_REQUIRE_PG is set.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	s.once.Do(s.start)
	if s.skip != "" {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%s, and %s is set", s.skip, RequireEnv)
			return ""
		}
		t.Skipf("%s (set %s=1 to make this a failure)", s.skip, RequireEnv)
		return ""
	}
	if s.err != nil {
		t.Fatal(s.err)
		return ""
	}
	name := dbName(t.Name(), s.dbSeq.Add(1))
	if err := s.exec(context.Background(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := s.exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.dsn(name)
}

// dsn returns the connection string of database name.
func (s *Server) dsn(name string) string {
	return fmt.Sprintf("postgres://apflow@127.0.0.1:%d/%s?sslmode=disable", s.port, name)
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// dbName turns a test name into a database name: lower case, [a-z0-9_], unique by seq,
// at most 63 bytes (PostgreSQL's identifier limit).
func dbName(test string, seq int64) string {
	base := unsafeChars.ReplaceAllString(strings.ToLower(test), "_")
	prefix := fmt.Sprintf("t%d_", seq)
	return prefix + base[:min(len(base), 63-len(prefix))]
}

// exec runs one statement on the administration connection.
func (s *Server) exec(ctx context.Context, sql string) error {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	_, err := s.admin.Exec(ctx, sql)
	return err
}

// Installed reports whether PostgreSQL's server binaries (initdb, postgres) are found
// where the tests look for them.
func Installed() bool { return binaries() != "" }

// binaries returns the directory holding initdb and postgres, or "" if there is none.
func binaries() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d
		}
	}
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil && filepath.Dir(initdb) == filepath.Dir(postgres) {
		return filepath.Dir(initdb)
	}
	return ""
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// start initializes and starts the server; it records why it could not in s.skip or s.err.
func (s *Server) start() {
	bin := binaries()
	if bin == "" {
		s.skip = "PostgreSQL binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or PATH; install Debian's postgresql package"
		return
	}
	if err := s.startIn(bin); err != nil {
		s.err = fmt.Errorf("pgtest: start PostgreSQL from %s: %w", bin, err)
		if s.dir != "" {
			s.err = fmt.Errorf("%w\n%s", s.err, s.logTail())
		}
		_ = s.Stop()
	}
}

func (s *Server) startIn(bin string) error {
	cred, err := credential()
	if err != nil {
		return err
	}
	if s.dir, err = os.MkdirTemp("", "apflow-pgtest-"); err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(s.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("hand %s to the postgres user: %w", s.dir, err)
		}
	}
	data, sock := filepath.Join(s.dir, "data"), filepath.Join(s.dir, "sock")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "apflow",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Env = childEnv()
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if err := s.mkdirFor(sock, cred); err != nil {
		return err
	}
	if s.port, err = freePort(); err != nil {
		return err
	}
	s.bin, s.cred = bin, cred
	if err := s.launch(bin, data, sock, cred); err != nil {
		return err
	}
	return s.connect(ctx)
}

// Restart stops the server as a crash does (immediate shutdown: sessions are cut and
// the next start replays the WAL, so every committed transaction survives) and starts it
// again on the same data directory and port. For a test that owns its Server (New, then
// Stop): other tests sharing it would lose their connections.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if s.proc == nil {
		t.Fatal("pgtest: Restart before the server started (call Database first)")
	}
	_ = s.admin.Close(context.Background())
	_ = s.proc.Signal(syscall.SIGQUIT)
	<-s.exited
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	data, sock := filepath.Join(s.dir, "data"), filepath.Join(s.dir, "sock")
	if err := s.launch(s.bin, data, sock, s.cred); err != nil {
		t.Fatalf("pgtest: restart: %v", err)
	}
	if err := s.connect(ctx); err != nil {
		t.Fatalf("pgtest: restart: %v\n%s", err, s.logTail())
	}
}

// credential returns the user to run PostgreSQL as: nil (the current user) unless the
// current user is root.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs an unprivileged user and there is no \"postgres\" user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func (s *Server) mkdirFor(dir string, cred *syscall.Credential) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	if cred != nil {
		return os.Chown(dir, int(cred.Uid), int(cred.Gid))
	}
	return nil
}

// childEnv is the environment of initdb and postgres: ours without PG* variables, which
// would redirect them.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, "LC_ALL=C")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch starts postgres. It runs from a goroutine locked to its OS thread until postgres
// exits, because the parent-death signal is tied to the thread that started the process.
func (s *Server) launch(bin, data, sock string, cred *syscall.Credential) error {
	logFile, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", sock,
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-c", "fsync=on", "-c", "synchronous_commit=on",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	started := make(chan error, 1)
	s.exited = make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		defer logFile.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			close(s.exited)
			return
		}
		s.proc = cmd.Process
		started <- nil
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// connect waits until the server accepts connections and opens the administration
// connection.
func (s *Server) connect(ctx context.Context) error {
	for {
		conn, err := pgx.Connect(ctx, s.dsn("postgres"))
		if err == nil {
			s.admin = conn
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited: %v", s.exitErr)
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections within %s: %w", startTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logTail returns the end of the server's log, for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "postgres log:\n" + string(b)
}

// Stop shuts the server down (fast shutdown: sessions are ended, committed data is
// flushed) and removes its directory. It is safe to call more than once and when the
// server never started.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.admin != nil {
			_ = s.admin.Close(context.Background())
		}
		if s.proc != nil {
			_ = s.proc.Signal(syscall.SIGINT)
			select {
			case <-s.exited:
			case <-time.After(30 * time.Second):
				_ = s.proc.Kill()
				<-s.exited
				errs = append(errs, errors.New("postgres did not stop within 30s after SIGINT; killed"))
			}
		}
		if s.dir != "" {
			if err := os.RemoveAll(s.dir); err != nil {
				errs = append(errs, err)
			}
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
