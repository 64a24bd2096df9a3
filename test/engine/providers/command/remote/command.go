// Package remote is a stand-in for the `command:remote:Command` resource of
// pulumi-command 1.2.1 (upstream: provider/pkg/provider/remote and
// provider/pkg/provider/common). The package path must end in "remote":
// pulumi-go-provider's infer derives the token module (`command:remote:...`)
// from it.
package remote

import (
	"github.com/pulumi/pulumi-go-provider/infer"
)

// Command is the `command:remote:Command` resource.
type Command struct{}

// Annotate describes the resource in the schema.
func (c *Command) Annotate(a infer.Annotator) {
	a.Describe(&c, "A command to run on a remote host over SSH. The connection is made at create, "+
		"update and delete time; `create` runs on creation, `update` (or `create` if there is no "+
		"`update`) when inputs change, `delete` on deletion.")
}

// ResourceInputs are the command lines shared with upstream's `common.ResourceInputs`.
type ResourceInputs struct {
	Triggers *[]any  `pulumi:"triggers,optional" provider:"replaceOnChanges"`
	Create   *string `pulumi:"create,optional"`
	Update   *string `pulumi:"update,optional"`
	Delete   *string `pulumi:"delete,optional"`
}

// Annotate describes the shared inputs.
func (r *ResourceInputs) Annotate(a infer.Annotator) {
	a.Describe(&r.Triggers, "Values of any type; a change to any of them replaces the resource.")
	a.Describe(&r.Create, "Run once when the resource is created, and on updates when no `update` is given.")
	a.Describe(&r.Update, "Run when the inputs change (triggers excepted, which replace). "+
		"PULUMI_COMMAND_STDOUT and PULUMI_COMMAND_STDERR carry the previous outputs.")
	a.Describe(&r.Delete, "Run when the resource is deleted, with the connection, stdin and "+
		"environment recorded in its state. PULUMI_COMMAND_STDOUT and PULUMI_COMMAND_STDERR carry "+
		"the last outputs.")
}

// CommandInputs are the arguments of a remote Command.
type CommandInputs struct {
	ResourceInputs
	Stdin                  *string           `pulumi:"stdin,optional"`
	Logging                *Logging          `pulumi:"logging,optional"`
	Connection             *Connection       `pulumi:"connection" provider:"secret"`
	Environment            map[string]string `pulumi:"environment,optional"`
	AddPreviousOutputInEnv *bool             `pulumi:"addPreviousOutputInEnv,optional"`
}

// Annotate describes the inputs.
func (c *CommandInputs) Annotate(a infer.Annotator) {
	a.Describe(&c.Stdin, "Written to the command's standard input.")
	a.Describe(&c.Logging, "Which of stdout and stderr to stream to the Pulumi log "+
		"(the outputs are captured either way). Defaults to both.")
	a.Describe(&c.Connection, "How to reach the remote host.")
	a.Describe(&c.Environment, "Environment variables for the command, sent as SSH `env` requests; "+
		"the SSH server must accept them (AcceptEnv), else the command fails.")
	a.Describe(&c.AddPreviousOutputInEnv, "Whether the previous stdout and stderr are passed as "+
		"PULUMI_COMMAND_STDOUT and PULUMI_COMMAND_STDERR. Defaults to true.")
}

// BaseOutputs are the captured streams.
type BaseOutputs struct {
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

// Annotate describes the outputs.
func (b *BaseOutputs) Annotate(a infer.Annotator) {
	a.Describe(&b.Stdout, "The command's standard output, without one trailing newline.")
	a.Describe(&b.Stderr, "The command's standard error, without one trailing newline.")
}

// CommandOutputs is the state of a remote Command: its inputs and the captured streams.
type CommandOutputs struct {
	CommandInputs
	BaseOutputs
}
