package command_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func invokeRun(t *testing.T, args map[string]property.Value) (p.InvokeResponse, error) {
	t.Helper()
	return newServer(t).Invoke(p.InvokeRequest{Token: runToken, Args: property.NewMap(args)})
}

func strs(v ...string) property.Value {
	out := make([]property.Value, len(v))
	for i, s := range v {
		out[i] = str(s)
	}
	return property.New(property.NewArray(out))
}

func TestRunCapturesOutputWithStdinEnvironmentAndDir(t *testing.T) {
	dir := t.TempDir()
	resp, err := invokeRun(t, map[string]property.Value{
		"command":     str(`read -r line; printf '%s %s %s\n' "$line" "$LAB_VALUE" "$(pwd)"; echo oops >&2`),
		"interpreter": strs("bash", "-c"),
		"stdin":       str("from-stdin\n"),
		"environment": obj(map[string]property.Value{"LAB_VALUE": str("from-env")}),
		"dir":         str(dir),
		"logging":     str("none"),
	})
	require.NoError(t, err)
	assert.Empty(t, resp.Failures)
	real, _ := filepath.EvalSymlinks(dir)
	assert.Equal(t, "from-stdin from-env "+real, resp.Return.Get("stdout").AsString(), "one trailing newline removed")
	assert.Equal(t, "oops", resp.Return.Get("stderr").AsString())
	assert.Equal(t, "from-env", resp.Return.Get("environment").AsMap().Get("LAB_VALUE").AsString(), "the inputs come back")
}

func TestRunDefaultsToShInTheProvidersDirectory(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	resp, err := invokeRun(t, map[string]property.Value{"command": str(`echo "$0"; pwd`)})
	require.NoError(t, err)
	assert.Equal(t, "/bin/sh\n"+wd, resp.Return.Get("stdout").AsString())
}

func TestRunFailureQuotesTheCommandAndItsOutput(t *testing.T) {
	_, err := invokeRun(t, map[string]property.Value{"command": str("echo partial; exit 3"), "logging": str("none")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exit status 3")
	assert.Contains(t, err.Error(), `running "echo partial; exit 3":`)
	assert.True(t, strings.HasSuffix(strings.TrimSpace(err.Error()), "partial"), err.Error())
}

func TestRunRefusesAssetAndArchivePaths(t *testing.T) {
	_, err := invokeRun(t, map[string]property.Value{"command": str("true"), "assetPaths": strs("*")})
	require.ErrorContains(t, err, "not supported by this stand-in")
}
