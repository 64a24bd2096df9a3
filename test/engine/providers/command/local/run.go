// Package local is a stand-in for the `command:local:run` function (an invoke) of
// pulumi-command 1.2.1 (upstream: provider/pkg/provider/local, run.go,
// runController.go, base.go, commandOutputs.go). The package path must end in
// "local": pulumi-go-provider's infer derives the token module
// (`command:local:...`) from it. The engine runs an invoke in a preview too,
// which is what k8s-lab's preflight relies on.
package local

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi-go-provider/infer/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Run is the `command:local:run` function.
type Run struct{}

// Annotate describes the function in the schema.
func (r *Run) Annotate(a infer.Annotator) {
	a.Describe(&r, "Runs a command on the machine that runs Pulumi, every time the program "+
		"runs: in a preview as in an update.")
}

// RunInputs are the arguments of `local.run`: upstream's BaseInputs and the command.
type RunInputs struct {
	Stdin                  *string            `pulumi:"stdin,optional"`
	Logging                *Logging           `pulumi:"logging,optional"`
	Interpreter            *[]string          `pulumi:"interpreter,optional"`
	Dir                    *string            `pulumi:"dir,optional"`
	Environment            *map[string]string `pulumi:"environment,optional"`
	AssetPaths             *[]string          `pulumi:"assetPaths,optional"`
	ArchivePaths           *[]string          `pulumi:"archivePaths,optional"`
	AddPreviousOutputInEnv *bool              `pulumi:"addPreviousOutputInEnv,optional"`
	Command                string             `pulumi:"command"`
}

// Annotate describes the inputs.
func (r *RunInputs) Annotate(a infer.Annotator) {
	a.Describe(&r.Stdin, "Written to the command's standard input.")
	a.Describe(&r.Logging, "Which of stdout and stderr to stream to the Pulumi log "+
		"(the outputs are captured either way). Defaults to both.")
	a.Describe(&r.Interpreter, "The program and its arguments that run the command. "+
		"Defaults to [\"/bin/sh\", \"-c\"].")
	a.Describe(&r.Dir, "The working directory. Defaults to the provider's.")
	a.Describe(&r.Environment, "Environment variables added to the provider's own.")
	a.Describe(&r.AssetPaths, "Path globs to return as assets. Not supported by this stand-in.")
	a.Describe(&r.ArchivePaths, "Path globs to return as one archive. Not supported by this stand-in.")
	a.Describe(&r.AddPreviousOutputInEnv, "Whether previous outputs are passed as "+
		"PULUMI_COMMAND_STDOUT and PULUMI_COMMAND_STDERR; a function has none. Defaults to true.")
	a.Describe(&r.Command, "The command to run.")
}

// RunOutputs are the inputs again, and what the command produced.
type RunOutputs struct {
	RunInputs
	Stdout  string                            `pulumi:"stdout"`
	Stderr  string                            `pulumi:"stderr"`
	Assets  *map[string]*types.AssetOrArchive `pulumi:"assets,optional"`
	Archive *resource.Archive                 `pulumi:"archive,optional"`
}

// Annotate describes the outputs.
func (r *RunOutputs) Annotate(a infer.Annotator) {
	a.Describe(&r.Stdout, "The command's standard output, without one trailing newline.")
	a.Describe(&r.Stderr, "The command's standard error, without one trailing newline.")
	a.Describe(&r.Assets, "Never set by this stand-in.")
	a.Describe(&r.Archive, "Never set by this stand-in.")
}

// lockedWriter serialises writes from the stdout and stderr copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// logLines sends each line it reads to the engine's log as an info status
// message; after a line too long for the scanner it drains the rest, so that
// the command never blocks on its output.
func logLines(ctx context.Context, r io.Reader, done chan<- struct{}) {
	defer close(done)
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		p.GetLogger(ctx).InfoStatus(scanner.Text())
	}
	_, _ = io.Copy(io.Discard, r)
}

// Invoke runs the command, as upstream's `run` does: the interpreter (default
// /bin/sh -c) with the command as its last argument, in `dir` (default the
// provider's working directory), the provider's environment plus
// `environment`, `stdin` when it is not empty. On a non-zero exit the error is
// `<err>: running "<command>":\n<combined output>`.
func (*Run) Invoke(ctx context.Context, req infer.FunctionRequest[RunInputs]) (infer.FunctionResponse[RunOutputs], error) {
	in := req.Input
	out := RunOutputs{RunInputs: in}
	if (in.AssetPaths != nil && len(*in.AssetPaths) > 0) || (in.ArchivePaths != nil && len(*in.ArchivePaths) > 0) {
		return infer.FunctionResponse[RunOutputs]{Output: out}, fmt.Errorf("assetPaths and archivePaths are not supported by this stand-in")
	}

	args := []string{"/bin/sh", "-c"}
	if in.Interpreter != nil && len(*in.Interpreter) > 0 {
		args = append([]string{}, *in.Interpreter...)
	}
	args = append(args, in.Command)

	var stdout, stderr, combined bytes.Buffer
	both := &lockedWriter{w: &combined}
	logReader, logWriter := io.Pipe()

	//nolint:gosec // running the command it is given is what this function is for
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	outWriters := []io.Writer{&stdout, both}
	if in.Logging.logsStdout() {
		outWriters = append(outWriters, logWriter)
	}
	errWriters := []io.Writer{&stderr, both}
	if in.Logging.logsStderr() {
		errWriters = append(errWriters, logWriter)
	}
	cmd.Stdout = io.MultiWriter(outWriters...)
	cmd.Stderr = io.MultiWriter(errWriters...)

	if in.Dir != nil {
		cmd.Dir = *in.Dir
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return infer.FunctionResponse[RunOutputs]{Output: out}, err
		}
		cmd.Dir = wd
	}
	cmd.Env = os.Environ()
	if in.Environment != nil {
		for k, v := range *in.Environment {
			cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%s", k, v))
		}
	}
	// A function has no previous outputs, so addPreviousOutputInEnv adds nothing.
	if in.Stdin != nil && len(*in.Stdin) > 0 {
		cmd.Stdin = strings.NewReader(*in.Stdin)
	}

	logged := make(chan struct{})
	go logLines(ctx, logReader, logged)
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	_ = logWriter.Close()
	<-logged

	if err != nil {
		return infer.FunctionResponse[RunOutputs]{Output: out}, fmt.Errorf("%w: running %q:\n%s", err, in.Command, combined.String())
	}
	out.Stdout = strings.TrimSuffix(stdout.String(), "\n")
	out.Stderr = strings.TrimSuffix(stderr.String(), "\n")
	return infer.FunctionResponse[RunOutputs]{Output: out}, nil
}
