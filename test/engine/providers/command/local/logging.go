package local

import "github.com/pulumi/pulumi-go-provider/infer"

// Logging selects which output streams are streamed to the engine's log
// (upstream keeps a copy in each of its local and remote packages too).
type Logging string

// The values of Logging.
const (
	LogStdout          Logging = "stdout"
	LogStderr          Logging = "stderr"
	LogStdoutAndStderr Logging = "stdoutAndStderr"
	NoLogging          Logging = "none"
)

// Values makes Logging an enum in the schema (`command:local:Logging`).
func (Logging) Values() []infer.EnumValue[Logging] {
	return []infer.EnumValue[Logging]{
		{Name: string(LogStdout), Value: LogStdout, Description: "Log stdout only."},
		{Name: string(LogStderr), Value: LogStderr, Description: "Log stderr only."},
		{Name: string(LogStdoutAndStderr), Value: LogStdoutAndStderr, Description: "Log stdout and stderr."},
		{Name: string(NoLogging), Value: NoLogging, Description: "Log neither."},
	}
}

// logsStdout is true when stdout lines go to the log; an absent setting logs both.
func (l *Logging) logsStdout() bool {
	return l == nil || *l == LogStdout || *l == LogStdoutAndStderr
}

// logsStderr is true when stderr lines go to the log; an absent setting logs both.
func (l *Logging) logsStderr() bool {
	return l == nil || *l == LogStderr || *l == LogStdoutAndStderr
}
