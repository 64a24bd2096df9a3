package command_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	rpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"google.golang.org/protobuf/types/known/emptypb"

	"k8s-lab/test/engine/providers/command"
	"k8s-lab/test/engine/providers/internal/sshtest"
)

const commandType = "command:remote:Command"

func urn(name string) resource.URN {
	return resource.NewURN("test", "lab", "", tokens.Type(commandType), name)
}

func TestMain(m *testing.M) {
	// The integration server sends log lines to slog; keep them out of the test output.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

func newServer(t *testing.T) integration.Server {
	t.Helper()
	// No agent: the machine's SSH_AUTH_SOCK must not leak into the tests.
	t.Setenv("SSH_AUTH_SOCK", "")
	s, err := integration.NewServer(t.Context(), command.Name, semver.MustParse(command.Version),
		integration.WithProvider(command.NewProvider()))
	require.NoError(t, err)
	return s
}

func str(s string) property.Value    { return property.New(s) }
func num(n float64) property.Value   { return property.New(n) }
func boolean(b bool) property.Value  { return property.New(b) }
func secret(s string) property.Value { return property.New(s).WithSecret(true) }
func obj(m map[string]property.Value) property.Value {
	return property.New(property.NewMap(m))
}

// connTo is a connection to a test server with the password "pw", one dial and a short timeout.
func connTo(srv *sshtest.Server) map[string]property.Value {
	return map[string]property.Value{
		"host":           str(srv.Host),
		"port":           num(float64(srv.Port)),
		"user":           str("lab"),
		"password":       secret("pw"),
		"dialErrorLimit": num(0),
		"perDialTimeout": num(5),
	}
}

func startServer(t *testing.T, opts sshtest.Options) *sshtest.Server {
	if opts.Password == "" && opts.AuthorizedKey == nil {
		opts.Password = "pw"
	}
	if opts.User == "" {
		opts.User = "lab"
	}
	return sshtest.Start(t, opts)
}

// checkAndCreate runs Check then Create (not a preview) and returns the checked inputs and the response.
func checkAndCreate(t *testing.T, s integration.Server, name string, inputs map[string]property.Value) (property.Map, p.CreateResponse, error) {
	t.Helper()
	checked, err := s.Check(p.CheckRequest{Urn: urn(name), Inputs: property.NewMap(inputs)})
	require.NoError(t, err)
	require.Empty(t, checked.Failures)
	resp, err := s.Create(p.CreateRequest{Urn: urn(name), Properties: checked.Inputs})
	return checked.Inputs, resp, err
}

func check(t *testing.T, s integration.Server, name string, inputs map[string]property.Value) property.Map {
	t.Helper()
	checked, err := s.Check(p.CheckRequest{Urn: urn(name), Inputs: property.NewMap(inputs)})
	require.NoError(t, err)
	require.Empty(t, checked.Failures)
	return checked.Inputs
}

func TestPluginInfoAndSchema(t *testing.T) {
	server, err := p.RawServer(command.Name, command.Version, command.NewProvider())(nil)
	require.NoError(t, err)
	info, err := server.GetPluginInfo(context.Background(), &emptypb.Empty{})
	require.NoError(t, err)
	assert.Equal(t, "1.2.1", info.Version)
	resp, err := server.GetSchema(context.Background(), &rpc.GetSchemaRequest{})
	require.NoError(t, err)

	var spec struct {
		Name      string                    `json:"name"`
		Version   string                    `json:"version"`
		Resources map[string]map[string]any `json:"resources"`
		Types     map[string]map[string]any `json:"types"`
		Functions map[string]map[string]any `json:"functions"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.Schema), &spec))
	assert.Equal(t, "command", spec.Name)
	assert.Equal(t, "1.2.1", spec.Version)
	require.Len(t, spec.Functions, 1)
	assert.Equal(t, runShape, shape(spec.Functions[runToken]))
	require.Len(t, spec.Resources, 1)
	assert.Equal(t, commandShape, shape(spec.Resources[commandType]))
	for name, want := range typeShapes {
		assert.Equal(t, want, shape(spec.Types[name]), name)
	}
	assert.Len(t, spec.Types, len(typeShapes))
}

// shape drops the descriptions from a schema fragment and renders it as sorted JSON.
func shape(v any) string {
	var strip func(v any) any
	strip = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, e := range v {
				if k != "description" {
					out[k] = strip(e)
				}
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, e := range v {
				out[i] = strip(e)
			}
			return out
		default:
			return v
		}
	}
	b, _ := json.Marshal(strip(v))
	return string(b)
}

// The upstream 1.2.1 schema of these tokens (provider/cmd/pulumi-resource-command/schema.json),
// descriptions left out.
const (
	commandProps = `"addPreviousOutputInEnv":{"type":"boolean"},` +
		`"connection":{"$ref":"#/types/command:remote:Connection","secret":true},` +
		`"create":{"type":"string"},"delete":{"type":"string"},` +
		`"environment":{"additionalProperties":{"type":"string"},"type":"object"},` +
		`"logging":{"$ref":"#/types/command:remote:Logging"},`
	commandProps2 = `"stdin":{"type":"string"},`
	commandProps3 = `"triggers":{"items":{"$ref":"pulumi.json#/Any"},"replaceOnChanges":true,"type":"array"},` +
		`"update":{"type":"string"}`
	commandShape = `{"inputProperties":{` + commandProps + commandProps2 + commandProps3 + `},` +
		`"properties":{` + commandProps + `"stderr":{"type":"string"},` + commandProps2 +
		`"stdout":{"type":"string"},` + commandProps3 + `},` +
		`"required":["connection","stdout","stderr"],"requiredInputs":["connection"]}`
	endpointProps = `"agentSocketPath":{"type":"string"},"dialErrorLimit":{"default":10,"type":"integer"},` +
		`"host":{"type":"string"},"hostKey":{"type":"string"},"password":{"secret":true,"type":"string"},` +
		`"perDialTimeout":{"default":15,"type":"integer"},"port":{"default":22,"type":"number"},` +
		`"privateKey":{"secret":true,"type":"string"},"privateKeyPassword":{"secret":true,"type":"string"},`
)

var typeShapes = map[string]string{
	"command:remote:Connection": `{"properties":{` + endpointProps +
		`"proxy":{"$ref":"#/types/command:remote:ProxyConnection"},"user":{"default":"root","type":"string"}},` +
		`"required":["host"],"type":"object"}`,
	"command:remote:ProxyConnection": `{"properties":{` + endpointProps +
		`"user":{"default":"root","type":"string"}},"required":["host"],"type":"object"}`,
	"command:remote:Logging": `{"enum":[{"value":"stdout"},{"value":"stderr"},{"value":"stdoutAndStderr"},` +
		`{"value":"none"}],"type":"string"}`,
	"command:local:Logging": `{"enum":[{"value":"stdout"},{"value":"stderr"},{"value":"stdoutAndStderr"},` +
		`{"value":"none"}],"type":"string"}`,
}

// The upstream 1.2.1 schema of `command:local:run`, descriptions left out.
const (
	runToken  = "command:local:run"
	runInputs = `"addPreviousOutputInEnv":{"type":"boolean"},` +
		`"archivePaths":{"items":{"type":"string"},"type":"array"},` +
		`"assetPaths":{"items":{"type":"string"},"type":"array"},"command":{"type":"string"},"dir":{"type":"string"},` +
		`"environment":{"additionalProperties":{"type":"string"},"type":"object"},` +
		`"interpreter":{"items":{"type":"string"},"type":"array"},` +
		`"logging":{"$ref":"#/types/command:local:Logging"},"stdin":{"type":"string"}`
	runShape = `{"inputs":{"properties":{` + runInputs + `},"required":["command"],"type":"object"},` +
		`"outputs":{"properties":{"addPreviousOutputInEnv":{"type":"boolean"},"archive":{"$ref":"pulumi.json#/Archive"},` +
		`"archivePaths":{"items":{"type":"string"},"type":"array"},` +
		`"assetPaths":{"items":{"type":"string"},"type":"array"},` +
		`"assets":{"additionalProperties":{"$ref":"pulumi.json#/Asset"},"type":"object"},` +
		`"command":{"type":"string"},"dir":{"type":"string"},` +
		`"environment":{"additionalProperties":{"type":"string"},"type":"object"},` +
		`"interpreter":{"items":{"type":"string"},"type":"array"},` +
		`"logging":{"$ref":"#/types/command:local:Logging"},"stderr":{"type":"string"},"stdin":{"type":"string"},` +
		`"stdout":{"type":"string"}},"required":["command","stdout","stderr"],"type":"object"}}`
)

func TestCheckAppliesDefaultsAndSecrets(t *testing.T) {
	s := newServer(t)
	checked := check(t, s, "c", map[string]property.Value{
		"connection": obj(map[string]property.Value{
			"host":  str("10.0.0.1"),
			"proxy": obj(map[string]property.Value{"host": str("10.0.0.2")}),
		}),
		"create": str("true"),
	})
	conn := checked.Get("connection")
	assert.True(t, conn.Secret(), "connection is secret")
	c := conn.AsMap()
	assert.Equal(t, "root", c.Get("user").AsString())
	assert.Equal(t, 22.0, c.Get("port").AsNumber())
	assert.Equal(t, 10.0, c.Get("dialErrorLimit").AsNumber())
	assert.Equal(t, 15.0, c.Get("perDialTimeout").AsNumber())
	proxy := c.Get("proxy").AsMap()
	assert.Equal(t, "root", proxy.Get("user").AsString())
	assert.Equal(t, 22.0, proxy.Get("port").AsNumber())
	assert.Equal(t, 10.0, proxy.Get("dialErrorLimit").AsNumber())
	assert.Equal(t, 15.0, proxy.Get("perDialTimeout").AsNumber())

	// Missing connection: a check failure.
	resp, err := s.Check(p.CheckRequest{Urn: urn("c"), Inputs: property.NewMap(map[string]property.Value{"create": str("x")})})
	require.NoError(t, err)
	assert.NotEmpty(t, resp.Failures)
}

func TestCreateRunsOverSSH(t *testing.T) {
	srv := startServer(t, sshtest.Options{})
	s := newServer(t)
	inputs, resp, err := checkAndCreate(t, s, "hello", map[string]property.Value{
		"connection": obj(connTo(srv)),
		"create":     str("echo out; echo err >&2; cat; echo"),
		"stdin":      str("line one\nline two\n"),
	})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(resp.ID, "hello"), resp.ID)
	assert.Len(t, resp.ID, len("hello")+8)

	out := resp.Properties
	// One trailing newline is dropped, no more.
	assert.Equal(t, "out\nline one\nline two\n", out.Get("stdout").AsString())
	assert.Equal(t, "err", out.Get("stderr").AsString())
	assert.False(t, out.Get("stdout").Secret(), "stdout is not secret (upstream: no secretness flows to it)")
	// Inputs are echoed; the connection stays secret.
	assert.Equal(t, inputs.Get("create").AsString(), out.Get("create").AsString())
	assert.Equal(t, inputs.Get("stdin").AsString(), out.Get("stdin").AsString())
	assert.True(t, out.Get("connection").Secret())

	execs := srv.Execs()
	require.Len(t, execs, 1)
	assert.Equal(t, "lab", execs[0].User)
	assert.Equal(t, "echo out; echo err >&2; cat; echo", execs[0].Command)
	assert.Equal(t, "line one\nline two\n", execs[0].Stdin)
	assert.Empty(t, execs[0].Env, "no env requests on create")
}

func TestPreviewRunsNothing(t *testing.T) {
	srv := startServer(t, sshtest.Options{})
	s := newServer(t)
	inputs := check(t, s, "pv", map[string]property.Value{
		"connection": obj(connTo(srv)),
		"create":     str("echo hi"),
	})
	resp, err := s.Create(p.CreateRequest{Urn: urn("pv"), Properties: inputs, DryRun: true})
	require.NoError(t, err)
	assert.True(t, resp.Properties.Get("stdout").IsComputed())
	assert.Empty(t, srv.Execs())
}

func TestNoCreateCommand(t *testing.T) {
	srv := startServer(t, sshtest.Options{})
	s := newServer(t)
	_, resp, err := checkAndCreate(t, s, "empty", map[string]property.Value{
		"connection": obj(connTo(srv)),
		"delete":     str("echo bye"),
	})
	require.NoError(t, err)
	assert.Equal(t, "", resp.Properties.Get("stdout").AsString())
	assert.Empty(t, srv.Execs())
}

func TestCommandFailure(t *testing.T) {
	srv := startServer(t, sshtest.Options{})
	s := newServer(t)
	_, _, err := checkAndCreate(t, s, "fail", map[string]property.Value{
		"connection": obj(connTo(srv)),
		"create":     str("echo partial; echo broken >&2; exit 3"),
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Process exited with status 3")
	assert.Contains(t, err.Error(), `running "echo partial; echo broken >&2; exit 3"`)
	assert.Contains(t, err.Error(), "partial")
	assert.Contains(t, err.Error(), "broken")
}

func TestDiffRules(t *testing.T) {
	srv := startServer(t, sshtest.Options{})
	s := newServer(t)
	base := map[string]property.Value{
		"connection": obj(connTo(srv)),
		"create":     str("echo one"),
		"triggers":   property.New([]property.Value{str("a")}),
	}
	olds, created, err := checkAndCreate(t, s, "d", base)
	require.NoError(t, err)

	diff := func(changes map[string]property.Value) p.DiffResponse {
		t.Helper()
		news := map[string]property.Value{}
		for k, v := range base {
			news[k] = v
		}
		for k, v := range changes {
			news[k] = v
		}
		checked := check(t, s, "d", news)
		resp, err := s.Diff(p.DiffRequest{Urn: urn("d"), ID: created.ID, State: created.Properties, OldInputs: olds, Inputs: checked})
		require.NoError(t, err)
		return resp
	}

	same := diff(nil)
	assert.False(t, same.HasChanges)

	// A changed trigger element: the provider (as upstream, whose infer diff only
	// forces replacement for top-level keys) reports "triggers[0]" as an update;
	// the Node SDK's replaceOnChanges: ["triggers[*]"] makes the engine replace.
	trig := diff(map[string]property.Value{"triggers": property.New([]property.Value{str("b")})})
	assert.True(t, trig.HasChanges)
	require.Contains(t, trig.DetailedDiff, "triggers[0]")
	assert.Equal(t, p.Update, trig.DetailedDiff["triggers[0]"].Kind)
	assert.False(t, trig.DeleteBeforeReplace)

	// triggers as a whole appearing or disappearing: a replace from the provider itself.
	noTrig := map[string]property.Value{}
	for k, v := range base {
		if k != "triggers" {
			noTrig[k] = v
		}
	}
	checkedNoTrig := check(t, s, "d", noTrig)
	gone, err := s.Diff(p.DiffRequest{Urn: urn("d"), ID: created.ID, State: created.Properties, OldInputs: olds, Inputs: checkedNoTrig})
	require.NoError(t, err)
	assert.Equal(t, p.DeleteReplace, gone.DetailedDiff["triggers"].Kind)

	cr := diff(map[string]property.Value{"create": str("echo two")})
	assert.True(t, cr.HasChanges)
	assert.Equal(t, p.Update, cr.DetailedDiff["create"].Kind)

	// Every other input, the connection included, updates in place.
	for key, v := range map[string]property.Value{
		"update":                 str("echo up"),
		"delete":                 str("echo del"),
		"stdin":                  str("x"),
		"environment":            obj(map[string]property.Value{"A": str("1")}),
		"logging":                str("none"),
		"addPreviousOutputInEnv": boolean(false),
	} {
		d := diff(map[string]property.Value{key: v})
		assert.True(t, d.HasChanges, key)
		require.Contains(t, d.DetailedDiff, key)
		assert.Equal(t, p.Add, d.DetailedDiff[key].Kind, key)
	}
	other := connTo(srv)
	other["host"] = str("127.0.0.2")
	cd := diff(map[string]property.Value{"connection": obj(other)})
	assert.True(t, cd.HasChanges)
	for path, d := range cd.DetailedDiff {
		assert.False(t, strings.Contains(string(d.Kind), "replace"), "%s: %s", path, d.Kind)
	}
}

func TestUpdateRunsUpdateElseCreate(t *testing.T) {
	srv := startServer(t, sshtest.Options{AcceptEnv: []string{"PULUMI_COMMAND_*"}})
	s := newServer(t)
	_, created, err := checkAndCreate(t, s, "u", map[string]property.Value{
		"connection": obj(connTo(srv)),
		"create":     str("echo created; echo cerr >&2"),
	})
	require.NoError(t, err)

	update := func(state property.Map, inputs map[string]property.Value) p.UpdateResponse {
		t.Helper()
		news := check(t, s, "u", inputs)
		resp, err := s.Update(p.UpdateRequest{Urn: urn("u"), ID: created.ID, State: state, Inputs: news})
		require.NoError(t, err)
		return resp
	}
	// With `update`: it runs, and sees the previous outputs.
	up := update(created.Properties, map[string]property.Value{
		"connection": obj(connTo(srv)),
		"create":     str("echo created"),
		"update":     str(`echo "updated after $PULUMI_COMMAND_STDOUT/$PULUMI_COMMAND_STDERR"`),
	})
	assert.Equal(t, "updated after created/cerr", up.Properties.Get("stdout").AsString())
	assert.Equal(t, "", up.Properties.Get("stderr").AsString())

	// Without `update`: `create` runs again.
	again := update(up.Properties, map[string]property.Value{
		"connection": obj(connTo(srv)),
		"create":     str("echo recreated"),
	})
	assert.Equal(t, "recreated", again.Properties.Get("stdout").AsString())

	// addPreviousOutputInEnv false: no env requests at all.
	quiet := update(again.Properties, map[string]property.Value{
		"connection":             obj(connTo(srv)),
		"create":                 str(`echo "[${PULUMI_COMMAND_STDOUT:-unset}]"`),
		"addPreviousOutputInEnv": boolean(false),
	})
	assert.Equal(t, "[unset]", quiet.Properties.Get("stdout").AsString())

	execs := srv.Execs()
	require.Len(t, execs, 4)
	assert.Equal(t, map[string]string{"PULUMI_COMMAND_STDOUT": "created", "PULUMI_COMMAND_STDERR": "cerr"}, execs[1].Env)
	assert.Equal(t, map[string]string{"PULUMI_COMMAND_STDOUT": "updated after created/cerr"}, execs[2].Env)
	assert.Empty(t, execs[3].Env)

	// Preview of an update runs nothing.
	news := check(t, s, "u", map[string]property.Value{"connection": obj(connTo(srv)), "create": str("echo x")})
	_, err = s.Update(p.UpdateRequest{Urn: urn("u"), ID: created.ID, State: quiet.Properties, Inputs: news, DryRun: true})
	require.NoError(t, err)
	assert.Len(t, srv.Execs(), 4)
}

func TestDeleteUsesOldState(t *testing.T) {
	old := startServer(t, sshtest.Options{AcceptEnv: []string{"PULUMI_COMMAND_*", "MODE"}})
	s := newServer(t)
	_, created, err := checkAndCreate(t, s, "del", map[string]property.Value{
		"connection":  obj(connTo(old)),
		"create":      str("echo made"),
		"delete":      str("cat; echo \"$MODE $PULUMI_COMMAND_STDOUT\""),
		"stdin":       str("from-state\n"),
		"environment": obj(map[string]property.Value{"MODE": str("old")}),
	})
	require.NoError(t, err)

	// The program has since moved the resource to another host and changed
	// everything; delete only sees the state.
	err = s.Delete(p.DeleteRequest{Urn: urn("del"), ID: created.ID, Properties: created.Properties})
	require.NoError(t, err)
	execs := old.Execs()
	require.Len(t, execs, 2)
	assert.Equal(t, "cat; echo \"$MODE $PULUMI_COMMAND_STDOUT\"", execs[1].Command)
	assert.Equal(t, "from-state\n", execs[1].Stdin)
	assert.Equal(t, map[string]string{"MODE": "old", "PULUMI_COMMAND_STDOUT": "made"}, execs[1].Env)

	// No delete command: nothing runs.
	_, created2, err := checkAndCreate(t, s, "nodel", map[string]property.Value{
		"connection": obj(connTo(old)),
		"create":     str("echo made"),
	})
	require.NoError(t, err)
	require.NoError(t, s.Delete(p.DeleteRequest{Urn: urn("nodel"), ID: created2.ID, Properties: created2.Properties}))
	assert.Len(t, old.Execs(), 3)
}

func TestEnvironment(t *testing.T) {
	srv := startServer(t, sshtest.Options{AcceptEnv: []string{"GREETING"}})
	s := newServer(t)
	_, resp, err := checkAndCreate(t, s, "env", map[string]property.Value{
		"connection":  obj(connTo(srv)),
		"create":      str(`echo "$GREETING"`),
		"environment": obj(map[string]property.Value{"GREETING": str("hi there")}),
	})
	require.NoError(t, err)
	assert.Equal(t, "hi there", resp.Properties.Get("stdout").AsString())

	// A name the server does not accept fails the command (upstream returns the setenv error).
	_, _, err = checkAndCreate(t, s, "env2", map[string]property.Value{
		"connection":  obj(connTo(srv)),
		"create":      str(`echo never`),
		"environment": obj(map[string]property.Value{"REFUSED": str("x")}),
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `could not set environment variable "REFUSED"`)
	assert.Len(t, srv.Execs(), 1)

	// PULUMI_COMMAND_STDOUT refused: only a warning, the update runs.
	_, created, err := checkAndCreate(t, s, "env3", map[string]property.Value{
		"connection": obj(connTo(srv)),
		"create":     str("echo first"),
	})
	require.NoError(t, err)
	news := check(t, s, "env3", map[string]property.Value{"connection": obj(connTo(srv)), "create": str("echo second")})
	up, err := s.Update(p.UpdateRequest{Urn: urn("env3"), ID: created.ID, State: created.Properties, Inputs: news})
	require.NoError(t, err)
	assert.Equal(t, "second", up.Properties.Get("stdout").AsString())
	assert.Contains(t, srv.RejectedEnv(), "PULUMI_COMMAND_STDOUT")
}

// logRecorder captures the status lines the provider logs through slog (the
// integration server has no engine to send them to).
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }
func (r *logRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.lines
	r.lines = nil
	return out
}

func TestLogging(t *testing.T) {
	rec := &logRecorder{}
	prev := slog.Default()
	slog.SetDefault(slog.New(rec))
	t.Cleanup(func() { slog.SetDefault(prev) })

	srv := startServer(t, sshtest.Options{})
	s := newServer(t)
	run := func(logging *string) []string {
		t.Helper()
		inputs := map[string]property.Value{
			"connection": obj(connTo(srv)),
			"create":     str("echo to-stdout; echo to-stderr >&2"),
		}
		if logging != nil {
			inputs["logging"] = str(*logging)
		}
		rec.take()
		_, resp, err := checkAndCreate(t, s, "log", inputs)
		require.NoError(t, err)
		// Captured whatever the logging.
		assert.Equal(t, "to-stdout", resp.Properties.Get("stdout").AsString())
		assert.Equal(t, "to-stderr", resp.Properties.Get("stderr").AsString())
		return rec.take()
	}
	mode := func(s string) *string { return &s }
	assert.ElementsMatch(t, []string{"to-stdout", "to-stderr"}, run(nil))
	assert.ElementsMatch(t, []string{"to-stdout", "to-stderr"}, run(mode("stdoutAndStderr")))
	assert.Equal(t, []string{"to-stdout"}, run(mode("stdout")))
	assert.Equal(t, []string{"to-stderr"}, run(mode("stderr")))
	assert.Empty(t, run(mode("none")))
}

func TestDialRetryLimit(t *testing.T) {
	s := newServer(t)
	// A closed port: dialErrorLimit 2 means 3 dials, 100ms + 150ms apart.
	conn := map[string]property.Value{
		"host": str("127.0.0.1"), "port": num(float64(sshtest.ClosedPort(t))),
		"password": secret("pw"), "dialErrorLimit": num(2), "perDialTimeout": num(1),
	}
	start := time.Now()
	_, _, err := checkAndCreate(t, s, "closed", map[string]property.Value{"connection": obj(conn), "create": str("true")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "after 2 failed attempts")
	assert.Contains(t, err.Error(), "connection refused")
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, 250*time.Millisecond)
	assert.Less(t, elapsed, 5*time.Second)

	// Count the dials: a listener that hangs up on every connection.
	for limit, want := range map[float64]int{0: 1, 2: 3} {
		h := sshtest.StartHangUp(t)
		conn["port"] = num(float64(h.Port))
		conn["dialErrorLimit"] = num(limit)
		_, _, err := checkAndCreate(t, s, "hangup", map[string]property.Value{"connection": obj(conn), "create": str("true")})
		require.Error(t, err)
		assert.Equal(t, want, h.Accepted(), "dialErrorLimit %v", limit)
	}
}

func TestProxyJumpHost(t *testing.T) {
	target := startServer(t, sshtest.Options{Password: "target-pw"})
	bastion := startServer(t, sshtest.Options{Password: "bastion-pw", User: "jump", Forward: true})
	s := newServer(t)
	conn := connTo(target)
	conn["password"] = secret("target-pw")
	conn["proxy"] = obj(map[string]property.Value{
		"host": str(bastion.Host), "port": num(float64(bastion.Port)), "user": str("jump"),
		"password": secret("bastion-pw"), "dialErrorLimit": num(0), "perDialTimeout": num(5),
		"hostKey": str(bastion.AuthorizedHostKey()),
	})
	conn["hostKey"] = str(target.AuthorizedHostKey())
	_, resp, err := checkAndCreate(t, s, "jump", map[string]property.Value{
		"connection": obj(conn),
		"create":     str("echo via bastion"),
		"stdin":      str("in"),
	})
	require.NoError(t, err)
	assert.Equal(t, "via bastion", resp.Properties.Get("stdout").AsString())
	assert.Equal(t, []string{target.Addr()}, bastion.Forwards())
	assert.Empty(t, bastion.Execs(), "nothing runs on the bastion")
	require.Len(t, target.Execs(), 1)
	assert.Equal(t, "in", target.Execs()[0].Stdin)

	// A bastion that refuses to forward.
	closedBastion := startServer(t, sshtest.Options{Password: "bastion-pw", User: "jump"})
	conn["proxy"] = obj(map[string]property.Value{
		"host": str(closedBastion.Host), "port": num(float64(closedBastion.Port)), "user": str("jump"),
		"password": secret("bastion-pw"), "dialErrorLimit": num(0),
	})
	_, _, err = checkAndCreate(t, s, "jump2", map[string]property.Value{"connection": obj(conn), "create": str("true")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "proxy: ")
	assert.Contains(t, err.Error(), "administratively prohibited")

	// The bastion's own dial limit applies to the bastion.
	h := sshtest.StartHangUp(t)
	conn["proxy"] = obj(map[string]property.Value{
		"host": str("127.0.0.1"), "port": num(float64(h.Port)), "password": secret("x"), "dialErrorLimit": num(1),
	})
	_, _, err = checkAndCreate(t, s, "jump3", map[string]property.Value{"connection": obj(conn), "create": str("true")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "proxy: after 1 failed attempts")
	assert.Equal(t, 2, h.Accepted())
}

func TestKeysAndHostKey(t *testing.T) {
	for _, passphrase := range []string{"", "secret words"} {
		key, pub := sshtest.NewKey(t, passphrase)
		srv := startServer(t, sshtest.Options{AuthorizedKey: pub})
		s := newServer(t)
		conn := map[string]property.Value{
			"host": str(srv.Host), "port": num(float64(srv.Port)), "user": str("lab"),
			"privateKey": secret(key), "dialErrorLimit": num(0), "hostKey": str(srv.AuthorizedHostKey()),
		}
		if passphrase != "" {
			conn["privateKeyPassword"] = secret(passphrase)
		}
		_, resp, err := checkAndCreate(t, s, "key", map[string]property.Value{"connection": obj(conn), "create": str("echo keyed")})
		require.NoError(t, err, "passphrase %q", passphrase)
		assert.Equal(t, "keyed", resp.Properties.Get("stdout").AsString())

		// Another server's host key: refused.
		other := startServer(t, sshtest.Options{})
		conn["hostKey"] = str(other.AuthorizedHostKey())
		_, _, err = checkAndCreate(t, s, "key", map[string]property.Value{"connection": obj(conn), "create": str("echo keyed")})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "host key mismatch")
	}

	// A wrong password fails after the dial limit.
	srv := startServer(t, sshtest.Options{})
	s := newServer(t)
	conn := connTo(srv)
	conn["password"] = secret("wrong")
	_, _, err := checkAndCreate(t, s, "badpw", map[string]property.Value{"connection": obj(conn), "create": str("true")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unable to authenticate")
}

func TestSecretInputs(t *testing.T) {
	srv := startServer(t, sshtest.Options{})
	s := newServer(t)
	_, resp, err := checkAndCreate(t, s, "sec", map[string]property.Value{
		"connection": obj(connTo(srv)),
		"create":     secret("echo s3cret"),
		"stdin":      secret("hidden"),
	})
	require.NoError(t, err)
	out := resp.Properties
	// Inputs echoed as outputs keep their secretness.
	assert.True(t, out.Get("create").Secret())
	assert.True(t, out.Get("stdin").Secret())
	assert.True(t, out.Get("connection").Secret())
	// As upstream, stdout/stderr are never made secret by the provider; the
	// program uses additionalSecretOutputs for that.
	assert.Equal(t, "s3cret", out.Get("stdout").AsString())
	assert.False(t, out.Get("stdout").Secret())
	assert.False(t, out.Get("stderr").Secret())
}

func TestAgentAuth(t *testing.T) {
	key, pub := sshtest.NewKey(t, "")
	raw, err := ssh.ParseRawPrivateKey([]byte(key))
	require.NoError(t, err)
	keyring := agent.NewKeyring()
	require.NoError(t, keyring.Add(agent.AddedKey{PrivateKey: raw}))
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, c) }()
		}
	}()

	srv := startServer(t, sshtest.Options{AuthorizedKey: pub})
	s := newServer(t)
	conn := map[string]property.Value{
		"host": str(srv.Host), "port": num(float64(srv.Port)), "user": str("lab"), "dialErrorLimit": num(0),
	}
	// No key, no password, no agent: refused.
	_, _, err = checkAndCreate(t, s, "agent", map[string]property.Value{"connection": obj(conn), "create": str("echo a")})
	require.Error(t, err)

	// agentSocketPath.
	conn["agentSocketPath"] = str(sock)
	_, resp, err := checkAndCreate(t, s, "agent", map[string]property.Value{"connection": obj(conn), "create": str("echo a")})
	require.NoError(t, err)
	assert.Equal(t, "a", resp.Properties.Get("stdout").AsString())

	// SSH_AUTH_SOCK when agentSocketPath is absent.
	delete(conn, "agentSocketPath")
	t.Setenv("SSH_AUTH_SOCK", sock)
	_, resp, err = checkAndCreate(t, s, "agent", map[string]property.Value{"connection": obj(conn), "create": str("echo b")})
	require.NoError(t, err)
	assert.Equal(t, "b", resp.Properties.Get("stdout").AsString())

	// An agent socket that cannot be reached is an error.
	conn["agentSocketPath"] = str(filepath.Join(t.TempDir(), "missing.sock"))
	_, _, err = checkAndCreate(t, s, "agent", map[string]property.Value{"connection": obj(conn), "create": str("echo c")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.sock")
}

func TestLongOutputLine(t *testing.T) {
	// A 100 KB line is longer than the log scanner's limit: it is still
	// captured, and the command does not stall (upstream's logger stops reading).
	srv := startServer(t, sshtest.Options{})
	s := newServer(t)
	done := make(chan struct{})
	var resp p.CreateResponse
	var err error
	go func() {
		defer close(done)
		_, resp, err = checkAndCreate(t, s, "long", map[string]property.Value{
			"connection": obj(connTo(srv)),
			"create":     str("head -c 100000 /dev/zero | tr '\\0' a; echo; echo after"),
		})
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("command stalled")
	}
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("a", 100000)+"\nafter", resp.Properties.Get("stdout").AsString())
}
