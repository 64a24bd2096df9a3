package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/retry"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

const (
	defaultUser           = "root"
	defaultPort           = 22
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
	unlimitedDialErrors   = -1
)

// endpoint holds the fields shared by the target host and the proxy (bastion).
type endpoint struct {
	User               *string  `pulumi:"user,optional"`
	Password           *string  `pulumi:"password,optional" provider:"secret"`
	Host               *string  `pulumi:"host"`
	Port               *float64 `pulumi:"port,optional"`
	PrivateKey         *string  `pulumi:"privateKey,optional" provider:"secret"`
	PrivateKeyPassword *string  `pulumi:"privateKeyPassword,optional" provider:"secret"`
	AgentSocketPath    *string  `pulumi:"agentSocketPath,optional"`
	DialErrorLimit     *int     `pulumi:"dialErrorLimit,optional"`
	PerDialTimeout     *int     `pulumi:"perDialTimeout,optional"`
	HostKey            *string  `pulumi:"hostKey,optional"`
}

// Connection is `command:remote:Connection`: the host to run on, optionally through a proxy.
type Connection struct {
	endpoint
	Proxy *ProxyConnection `pulumi:"proxy,optional"`
}

// ProxyConnection is `command:remote:ProxyConnection`: a bastion host to jump through.
type ProxyConnection struct {
	endpoint
}

func (e *endpoint) annotate(a infer.Annotator, what string) {
	a.Describe(&e.User, "The user to log in as on the "+what+".")
	a.SetDefault(&e.User, defaultUser)
	a.Describe(&e.Password, "The password for the "+what+"; also answers keyboard-interactive prompts.")
	a.Describe(&e.Host, "The address of the "+what+".")
	a.Describe(&e.Port, "The SSH port of the "+what+". Defaults to 22.")
	a.SetDefault(&e.Port, defaultPort)
	a.Describe(&e.PrivateKey, "A private key (PEM or OpenSSH format) for the "+what+".")
	a.Describe(&e.PrivateKeyPassword, "The passphrase of an encrypted privateKey.")
	a.Describe(&e.AgentSocketPath, "An SSH agent socket; defaults to $SSH_AUTH_SOCK when set.")
	a.Describe(&e.DialErrorLimit, "How many failed dials are tolerated before giving up; -1 for no limit. Defaults to 10.")
	a.SetDefault(&e.DialErrorLimit, defaultDialErrorLimit)
	a.Describe(&e.PerDialTimeout, "Seconds allowed for each dial; 0 for no limit. Defaults to 15.")
	a.SetDefault(&e.PerDialTimeout, defaultPerDialTimeout)
	a.Describe(&e.HostKey, "The expected host key in authorized_keys format; when absent the host key is not checked.")
}

// Annotate describes Connection in the schema and sets its defaults.
func (c *Connection) Annotate(a infer.Annotator) {
	a.Describe(&c, "How to connect to a remote host over SSH.")
	c.endpoint.annotate(a, "remote host")
	a.Describe(&c.Proxy, "A bastion host to reach the remote host through.")
}

// Annotate describes ProxyConnection in the schema and sets its defaults.
func (c *ProxyConnection) Annotate(a infer.Annotator) {
	a.Describe(&c, "How to connect to a bastion host over SSH.")
	c.endpoint.annotate(a, "bastion host")
}

func strOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

func intOr(i *int, def int) int {
	if i == nil {
		return def
	}
	return *i
}

func (e *endpoint) address() string {
	port := float64(defaultPort)
	if e.Port != nil {
		port = *e.Port
	}
	return net.JoinHostPort(strOr(e.Host, ""), strconv.Itoa(int(port)))
}

func (e *endpoint) dialErrorLimit() int { return intOr(e.DialErrorLimit, defaultDialErrorLimit) }

// clientConfig builds the SSH client configuration: host key check, then the
// authentication methods in the order private key, password (and
// keyboard-interactive with the same password), agent.
func (e *endpoint) clientConfig() (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{
		User:    strOr(e.User, defaultUser),
		Timeout: time.Duration(intOr(e.PerDialTimeout, defaultPerDialTimeout)) * time.Second,
	}
	if e.HostKey != nil {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*e.HostKey))
		if err != nil {
			return nil, fmt.Errorf("failed to parse host key: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(key)
		cfg.HostKeyAlgorithms = []string{key.Type()}
	} else {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // upstream: no hostKey, no check
	}

	if e.PrivateKey != nil {
		var signer ssh.Signer
		var err error
		if e.PrivateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*e.PrivateKey), []byte(*e.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*e.PrivateKey))
		}
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if e.Password != nil {
		password := *e.Password
		cfg.Auth = append(cfg.Auth,
			ssh.Password(password),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = password
				}
				return answers, nil
			}))
	}

	socket := ""
	if e.AgentSocketPath != nil {
		socket = *e.AgentSocketPath
	} else if env := os.Getenv("SSH_AUTH_SOCK"); env != "" {
		socket = env
	}
	if e.AgentSocketPath != nil || socket != "" {
		conn, err := net.Dial("unix", socket)
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	return cfg, nil
}

// withDialRetries calls dial until it succeeds or has failed more than limit
// times (limit -1, or any negative value: no limit), waiting between tries with
// the Pulumi SDK's retry defaults (100ms, x1.5, at most 5s). Each retry is
// reported as an info status line "<what> <n>/<limit> failed: retrying".
func withDialRetries[T any](ctx context.Context, what string, limit int, dial func() (T, error)) (T, error) {
	var zero T
	var result T
	var lastErr error
	ok, _, err := retry.Until(ctx, retry.Acceptor{
		Accept: func(try int, _ time.Duration) (bool, any, error) {
			result, lastErr = dial()
			if lastErr == nil {
				return true, nil, nil
			}
			failures := try + 1
			if limit > unlimitedDialErrors && failures > limit {
				// The count printed is the one upstream prints (the try index).
				return true, nil, fmt.Errorf("after %d failed attempts: %w", try, lastErr)
			}
			shown := "inf"
			if limit != unlimitedDialErrors {
				shown = strconv.Itoa(limit)
			}
			p.GetLogger(ctx).InfoStatusf("%s %d/%s failed: retrying", what, failures, shown)
			return false, nil, nil
		},
	})
	if err != nil {
		return zero, err
	}
	if !ok {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return zero, ctxErr
		}
		return zero, errors.New("dial abandoned")
	}
	return result, nil
}

// client is an SSH client to the target host, and to the proxy it was reached through, if any.
type client struct {
	*ssh.Client
	proxy *ssh.Client
}

// Close closes the connection to the host and then the one to the proxy.
func (c *client) Close() error {
	err := c.Client.Close()
	if c.proxy != nil {
		err = errors.Join(err, c.proxy.Close())
	}
	return err
}

// dial connects to the host, directly or through the proxy, retrying as
// configured by dialErrorLimit and perDialTimeout.
func (c *Connection) dial(ctx context.Context) (*client, error) {
	cfg, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	target := c.address()
	limit := c.dialErrorLimit()

	if c.Proxy == nil {
		direct, err := withDialRetries(ctx, "Dial", limit, func() (*ssh.Client, error) {
			return ssh.Dial("tcp", target, cfg)
		})
		if err != nil {
			return nil, err
		}
		return &client{Client: direct}, nil
	}

	proxyCfg, err := c.Proxy.clientConfig()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	bastion, err := withDialRetries(ctx, "Dial proxy", c.Proxy.dialErrorLimit(), func() (*ssh.Client, error) {
		return ssh.Dial("tcp", c.Proxy.address(), proxyCfg)
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	// A TCP stream from the bastion to the target (a direct-tcpip channel).
	tunnel, err := withDialRetries(ctx, "Dial from proxy", limit, func() (net.Conn, error) {
		return bastion.Dial("tcp", target)
	})
	if err != nil {
		_ = bastion.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	// The SSH handshake with the target over that stream. As upstream, this is
	// retried on the same stream, which a failed handshake has already closed.
	type handshake struct {
		conn  ssh.Conn
		chans <-chan ssh.NewChannel
		reqs  <-chan *ssh.Request
	}
	hs, err := withDialRetries(ctx, "Dial", limit, func() (handshake, error) {
		conn, chans, reqs, err := ssh.NewClientConn(tunnel, target, cfg)
		return handshake{conn, chans, reqs}, err
	})
	if err != nil {
		_ = bastion.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return &client{Client: ssh.NewClient(hs.conn, hs.chans, hs.reqs), proxy: bastion}, nil
}
