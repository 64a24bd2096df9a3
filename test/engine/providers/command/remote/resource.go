package remote

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The environment variables that carry the previous outputs into the next run.
const (
	EnvPreviousStdout = "PULUMI_COMMAND_STDOUT"
	EnvPreviousStderr = "PULUMI_COMMAND_STDERR"
)

var (
	_ infer.CustomResource[CommandInputs, CommandOutputs] = (*Command)(nil)
	_ infer.CustomUpdate[CommandInputs, CommandOutputs]   = (*Command)(nil)
	_ infer.CustomDelete[CommandOutputs]                  = (*Command)(nil)
)

// Create runs `create` (if given) and records its output. A preview runs nothing.
// The ID is the resource name with 8 random hex characters appended.
func (*Command) Create(ctx context.Context, req infer.CreateRequest[CommandInputs]) (infer.CreateResponse[CommandOutputs], error) {
	state := CommandOutputs{CommandInputs: req.Inputs}
	id, err := resource.NewUniqueHex(req.Name, 8, 0)
	if err != nil {
		return infer.CreateResponse[CommandOutputs]{Output: state}, err
	}
	if req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[CommandOutputs]{ID: id, Output: state}, nil
	}
	err = state.run(ctx, *req.Inputs.Create, req.Inputs.Logging)
	return infer.CreateResponse[CommandOutputs]{ID: id, Output: state}, err
}

// Update runs `update`, or `create` when there is no `update`, with the new
// inputs; the previous outputs are what PULUMI_COMMAND_STDOUT/STDERR carry. When
// neither is set the previous outputs are kept. A preview runs nothing.
func (*Command) Update(ctx context.Context, req infer.UpdateRequest[CommandInputs, CommandOutputs]) (infer.UpdateResponse[CommandOutputs], error) {
	state := CommandOutputs{CommandInputs: req.Inputs, BaseOutputs: req.State.BaseOutputs}
	if req.DryRun {
		return infer.UpdateResponse[CommandOutputs]{Output: state}, nil
	}
	var err error
	switch {
	case req.Inputs.Update != nil:
		err = state.run(ctx, *req.Inputs.Update, req.Inputs.Logging)
	case req.Inputs.Create != nil:
		err = state.run(ctx, *req.Inputs.Create, req.Inputs.Logging)
	}
	return infer.UpdateResponse[CommandOutputs]{Output: state}, err
}

// Delete runs `delete`, if the state has one, entirely from the state: its
// connection, stdin, environment, logging and last outputs.
func (*Command) Delete(ctx context.Context, req infer.DeleteRequest[CommandOutputs]) (infer.DeleteResponse, error) {
	state := req.State
	if state.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	return infer.DeleteResponse{}, state.run(ctx, *state.Delete, state.Logging)
}

// syncBuffer is a bytes.Buffer that stdout and stderr may write to at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(data []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(data)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logLines sends each line read from r to the engine as an info status message,
// until r ends. A line too long for the scanner ends logging but not reading.
func logLines(ctx context.Context, r io.Reader, done chan<- struct{}) {
	defer close(done)
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		p.GetLogger(ctx).InfoStatus(scanner.Text())
	}
	_, _ = io.Copy(io.Discard, r)
}

// run executes cmd on the remote host in one SSH session ("exec" request) and,
// if it exits 0, records its stdout and stderr (each without one trailing
// newline) in c.
func (c *CommandOutputs) run(ctx context.Context, cmd string, logging *Logging) error {
	if c.Connection == nil {
		return fmt.Errorf("no connection")
	}
	conn, err := c.Connection.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()

	session, err := conn.NewSession()
	if err != nil {
		return err
	}
	defer session.Close()

	names := make([]string, 0, len(c.Environment))
	for name := range c.Environment {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := session.Setenv(name, c.Environment[name]); err != nil {
			p.GetLogger(ctx).Error(setenvAdvice(name))
			return fmt.Errorf("could not set environment variable %q: %w", name, err)
		}
	}

	if c.AddPreviousOutputInEnv == nil || *c.AddPreviousOutputInEnv {
		for _, prev := range []struct{ name, value string }{
			{EnvPreviousStdout, c.Stdout},
			{EnvPreviousStderr, c.Stderr},
		} {
			if prev.value == "" {
				continue
			}
			if err := session.Setenv(prev.name, prev.value); err != nil {
				// Best effort: warn and go on.
				p.GetLogger(ctx).Warning(setenvAdvice(prev.name))
			}
		}
	}

	if c.Stdin != nil && *c.Stdin != "" {
		session.Stdin = strings.NewReader(*c.Stdin)
	}

	var stdout, stderr bytes.Buffer
	var combined syncBuffer
	logR, logW := io.Pipe()
	outs := []io.Writer{&stdout, &combined}
	if logging.logsStdout() {
		outs = append(outs, logW)
	}
	errs := []io.Writer{&stderr, &combined}
	if logging.logsStderr() {
		errs = append(errs, logW)
	}
	session.Stdout = io.MultiWriter(outs...)
	session.Stderr = io.MultiWriter(errs...)

	logged := make(chan struct{})
	go logLines(ctx, logR, logged)
	err = session.Run(cmd)
	_ = logW.Close()
	<-logged

	if err != nil {
		return fmt.Errorf("%w: running %q:\n%s", err, cmd, combined.String())
	}
	c.BaseOutputs = BaseOutputs{
		Stdout: strings.TrimSuffix(stdout.String(), "\n"),
		Stderr: strings.TrimSuffix(stderr.String(), "\n"),
	}
	return nil
}

func setenvAdvice(name string) string {
	return fmt.Sprintf("Unable to set '%s'. This only works if your SSH server is configured to accept "+
		"these variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote "+
		"host, you could prefix the command itself with the variables in the form 'VAR=value command'", name)
}
