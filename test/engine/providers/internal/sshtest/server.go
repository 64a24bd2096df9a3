// Package sshtest is an in-process SSH server for tests, built on
// golang.org/x/crypto/ssh. It listens on 127.0.0.1 only, runs "exec" requests
// with /bin/sh -c on this machine, honours "env" requests for names it accepts
// (like sshd's AcceptEnv), and can forward "direct-tcpip" channels so that it
// serves as a jump host.
package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Options configure a Server.
type Options struct {
	// User is the only user accepted; empty accepts any user.
	User string
	// Password, when set, is accepted for password and keyboard-interactive authentication.
	Password string
	// AuthorizedKey, when set, is accepted for public key authentication.
	AuthorizedKey ssh.PublicKey
	// AcceptEnv lists the names (path.Match patterns) that "env" requests may set.
	AcceptEnv []string
	// Forward allows "direct-tcpip" channels (jump host); the destination must be on 127.0.0.1.
	Forward bool
}

// Exec records one executed command.
type Exec struct {
	User    string
	Command string
	Env     map[string]string
	Stdin   string
}

// Server is a running test SSH server.
type Server struct {
	Host     string
	Port     int
	HostKey  ssh.Signer
	opts     Options
	listener net.Listener
	mu       sync.Mutex
	execs    []Exec
	forwards []string
	rejected []string
	wg       sync.WaitGroup
}

// Start starts a server on 127.0.0.1 and a random port; it stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, HostKey: signer, opts: opts, listener: l}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// AuthorizedHostKey is the server's host key in authorized_keys format.
func (s *Server) AuthorizedHostKey() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey.PublicKey())))
}

// Close stops the server.
func (s *Server) Close() {
	_ = s.listener.Close()
}

// Execs returns the commands run so far.
func (s *Server) Execs() []Exec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Exec(nil), s.execs...)
}

// Forwards returns the destinations of the direct-tcpip channels opened so far.
func (s *Server) Forwards() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.forwards...)
}

// RejectedEnv returns the names of env requests refused so far.
func (s *Server) RejectedEnv() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejected...)
}

func (s *Server) config() *ssh.ServerConfig {
	userOK := func(c ssh.ConnMetadata) bool { return s.opts.User == "" || c.User() == s.opts.User }
	fail := func() error { return errors.New("denied") }
	cfg := &ssh.ServerConfig{}
	if s.opts.Password != "" {
		cfg.PasswordCallback = func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if userOK(c) && string(pw) == s.opts.Password {
				return nil, nil
			}
			return nil, fail()
		}
	}
	if s.opts.AuthorizedKey != nil {
		want := s.opts.AuthorizedKey.Marshal()
		cfg.PublicKeyCallback = func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if userOK(c) && string(key.Marshal()) == string(want) {
				return nil, nil
			}
			return nil, fail()
		}
	}
	cfg.AddHostKey(s.HostKey)
	return cfg
}

func (s *Server) serve() {
	defer s.wg.Done()
	cfg := s.config()
	for {
		conn, err := s.listener.Accept()
		if err != nil {
			return
		}
		go s.handle(conn, cfg)
	}
}

func (s *Server) handle(nc net.Conn, cfg *ssh.ServerConfig) {
	conn, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		_ = nc.Close()
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			go s.session(conn.User(), ch, creqs)
		case "direct-tcpip":
			go s.forward(nch)
		default:
			_ = nch.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
}

func (s *Server) acceptsEnv(name string) bool {
	for _, pattern := range s.opts.AcceptEnv {
		if ok, _ := path.Match(pattern, name); ok {
			return true
		}
	}
	return false
}

func (s *Server) session(user string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	env := map[string]string{}
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if err := ssh.Unmarshal(req.Payload, &kv); err != nil || !s.acceptsEnv(kv.Name) {
				s.mu.Lock()
				s.rejected = append(s.rejected, kv.Name)
				s.mu.Unlock()
				_ = req.Reply(false, nil)
				continue
			}
			env[kv.Name] = kv.Value
			_ = req.Reply(true, nil)
		case "exec":
			var cmd struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &cmd); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			status := s.exec(user, cmd.Command, env, ch)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

func (s *Server) exec(user, command string, env map[string]string, ch ssh.Channel) uint32 {
	var stdin strings.Builder
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + os.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	in, err := cmd.StdinPipe()
	if err != nil {
		return 255
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(ch.Stderr(), err)
		return 127
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		// What the client sent is recorded first: a command that has exited (its
		// stdin closed by Wait) fails the write to it, and must not hide what came.
		_, _ = io.Copy(io.MultiWriter(&stdin, in), ch)
		_ = in.Close()
	}()
	err = cmd.Wait()
	// The client closes its side of stdin once it has sent it all; a command
	// that exits first leaves the rest unread, as with sshd.
	<-copied
	s.mu.Lock()
	s.execs = append(s.execs, Exec{User: user, Command: command, Env: env, Stdin: stdin.String()})
	s.mu.Unlock()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		return uint32(exitErr.ExitCode())
	default:
		return 255
	}
}

func (s *Server) forward(nch ssh.NewChannel) {
	var dest struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &dest); err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	target := net.JoinHostPort(dest.Host, strconv.Itoa(int(dest.Port)))
	s.mu.Lock()
	s.forwards = append(s.forwards, target)
	s.mu.Unlock()
	if !s.opts.Forward || dest.Host != "127.0.0.1" {
		_ = nch.Reject(ssh.Prohibited, "forwarding refused")
		return
	}
	conn, err := net.Dial("tcp", target)
	if err != nil {
		_ = nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		_ = conn.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() {
		_, _ = io.Copy(ch, conn)
		_ = ch.CloseWrite()
	}()
	_, _ = io.Copy(conn, ch)
	_ = conn.Close()
	_ = ch.Close()
}

// NewKey makes an ed25519 key pair: the private key in OpenSSH PEM format
// (encrypted when passphrase is not empty) and the public key.
func NewKey(t testing.TB, passphrase string) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), sshPub
}

// ClosedPort returns a loopback port nothing listens on.
func ClosedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// HangUp listens on a loopback port and closes every connection at once,
// counting them: a host whose SSH handshake always fails.
type HangUp struct {
	Port     int
	mu       sync.Mutex
	accepted int
}

// StartHangUp starts a HangUp listener that stops when the test ends.
func StartHangUp(t testing.TB) *HangUp {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &HangUp{Port: l.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.accepted++
			h.mu.Unlock()
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = l.Close() })
	return h
}

// Accepted is the number of connections taken so far.
func (h *HangUp) Accepted() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.accepted
}
