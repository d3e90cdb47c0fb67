// Package redistest starts private redis-server processes for tests: a plain server with the
// options a test needs (persistence, a password, a memory limit), and a three-master Redis
// Cluster. Each server listens on a free local port, keeps its files in a temporary folder and is
// killed when the test ends.
package redistest

import (
	"bufio"
	"context"

	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Server is one redis-server process.
type Server struct {
	t    testing.TB
	Port int
	Dir  string
	args []string
	cmd  *exec.Cmd
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is a redis:// URL of database 0 of the server.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Available reports whether redis-server is installed; tests that need it skip otherwise.
func Available() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs redis-server with args added to a private port and folder, no RDB snapshots, and
// waits until it answers. It is killed at the end of the test.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	if !Available() {
		t.Skip("redis-server is not installed")
	}
	s := &Server{t: t, Port: freePort(t), Dir: t.TempDir(), args: args}
	s.start()
	t.Cleanup(func() { s.Kill() })
	return s
}

func (s *Server) start() {
	s.t.Helper()
	args := append([]string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--dir", s.Dir, "--save", "", "--daemonize", "no", "--logfile", filepath.Join(s.Dir, "redis.log")}, s.args...)
	s.cmd = exec.Command("redis-server", args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", s.Addr(), 100*time.Millisecond); err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH") {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	s.t.Fatalf("redis-server on port %d did not start:\n%s", s.Port, log)
}

// Kill stops the server with SIGKILL, as a crash would; its files stay for Restart.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the server again on the same port and folder (an AOF is replayed).
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

// StartCluster starts three Redis Cluster masters and joins them with redis-cli --cluster
// create. It returns the seed URL, redis+cluster://host:port,host:port,host:port.
func StartCluster(t testing.TB) string {
	t.Helper()
	var addrs []string
	for range 3 {
		s := Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000", "--appendonly", "no")
		addrs = append(addrs, s.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for ctx.Err() == nil {
		ok := 0
		for _, a := range addrs {
			host, port, _ := strings.Cut(a, ":")
			out, _ := exec.CommandContext(ctx, "redis-cli", "-h", host, "-p", port, "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				ok++
			}
		}
		if ok == len(addrs) {
			return "redis+cluster://" + strings.Join(addrs, ",")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("redis cluster %v did not reach cluster_state:ok", addrs)
	return ""
}

// DeletePrefix removes every key under prefix+":" on the server of url (one node), with SCAN and
// UNLINK: tests share a server and never flush it.
func DeletePrefix(url, prefix string) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			c.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		c.Unlink(ctx, batch...)
	}
}
