package random_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	rpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/types/known/emptypb"

	"k8s-lab/test/engine/providers/random"
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

var urn = resource.NewURN("test", "lab", "", tokens.Type(random.Token), "pw")

func newServer(t *testing.T) integration.Server {
	t.Helper()
	s, err := integration.NewServer(t.Context(), random.Name, semver.MustParse(random.Version),
		integration.WithProvider(random.NewProvider()))
	require.NoError(t, err)
	return s
}

func num(n float64) property.Value  { return property.New(n) }
func boolean(b bool) property.Value { return property.New(b) }
func str(s string) property.Value   { return property.New(s) }
func computed() property.Value      { return property.New(property.Computed) }

func check(t *testing.T, s integration.Server, inputs map[string]property.Value) (property.Map, []p.CheckFailure) {
	t.Helper()
	resp, err := s.Check(p.CheckRequest{Urn: urn, Inputs: property.NewMap(inputs)})
	require.NoError(t, err)
	return resp.Inputs, resp.Failures
}

func create(t *testing.T, s integration.Server, inputs map[string]property.Value) p.CreateResponse {
	t.Helper()
	checked, failures := check(t, s, inputs)
	require.Empty(t, failures)
	resp, err := s.Create(p.CreateRequest{Urn: urn, Properties: checked})
	require.NoError(t, err)
	return resp
}

func TestPluginInfoAndSchema(t *testing.T) {
	server, err := p.RawServer(random.Name, random.Version, random.NewProvider())(nil)
	require.NoError(t, err)
	info, err := server.GetPluginInfo(context.Background(), &emptypb.Empty{})
	require.NoError(t, err)
	assert.Equal(t, "4.21.2", info.Version)
	resp, err := server.GetSchema(context.Background(), &rpc.GetSchemaRequest{})
	require.NoError(t, err)
	var spec struct {
		Name      string                    `json:"name"`
		Version   string                    `json:"version"`
		Resources map[string]map[string]any `json:"resources"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp.Schema), &spec))
	assert.Equal(t, "random", spec.Name)
	assert.Equal(t, "4.21.2", spec.Version)
	require.Len(t, spec.Resources, 1)
	res := spec.Resources["random:index/randomPassword:RandomPassword"]
	require.NotNil(t, res)
	assert.Equal(t, passwordShape, shape(res))
	number := res["inputProperties"].(map[string]any)["number"].(map[string]any)
	assert.Contains(t, number["deprecationMessage"], "use `numeric` instead")
}

// The upstream 4.21.2 schema of the resource (provider/cmd/pulumi-resource-random/schema.json),
// without descriptions, deprecation messages and stateInputs.
const (
	inputProps = `"keepers":{"additionalProperties":{"type":"string"},"type":"object"},"length":{"type":"integer"},` +
		`"lower":{"type":"boolean"},"minLower":{"type":"integer"},"minNumeric":{"type":"integer"},` +
		`"minSpecial":{"type":"integer"},"minUpper":{"type":"integer"},"number":{"type":"boolean"},` +
		`"numeric":{"type":"boolean"},"overrideSpecial":{"type":"string"},`
	passwordShape = `{"inputProperties":{` + inputProps + `"special":{"type":"boolean"},"upper":{"type":"boolean"}},` +
		`"properties":{"bcryptHash":{"secret":true,"type":"string"},` + inputProps +
		`"result":{"secret":true,"type":"string"},"special":{"type":"boolean"},"upper":{"type":"boolean"}},` +
		`"required":["bcryptHash","length","lower","minLower","minNumeric","minSpecial","minUpper","number",` +
		`"numeric","result","special","upper"],"requiredInputs":["length"]}`
)

func shape(v any) string {
	var strip func(v any) any
	strip = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, e := range v {
				if k != "description" && k != "deprecationMessage" {
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

func TestCreateAsTheProgramDoes(t *testing.T) {
	s := newServer(t)
	resp := create(t, s, map[string]property.Value{"length": num(32), "special": boolean(false)})
	assert.Equal(t, "none", resp.ID)
	out := resp.Properties
	result := out.Get("result")
	require.True(t, result.IsString())
	assert.True(t, result.Secret(), "result is secret")
	assert.True(t, out.Get("bcryptHash").Secret(), "bcryptHash is secret")
	pw := result.AsString()
	assert.Len(t, pw, 32)
	for _, r := range pw {
		assert.True(t, strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", r), "%q", r)
	}
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(out.Get("bcryptHash").AsString()), []byte(pw)))
	// The defaults are resolved into the state.
	for key, want := range map[string]any{
		"length": 32.0, "special": false, "upper": true, "lower": true, "number": true, "numeric": true,
		"minUpper": 0.0, "minLower": 0.0, "minNumeric": 0.0, "minSpecial": 0.0,
	} {
		v := out.Get(key)
		switch want := want.(type) {
		case bool:
			assert.Equal(t, want, v.AsBool(), key)
		case float64:
			assert.Equal(t, want, v.AsNumber(), key)
		}
		assert.False(t, v.Secret(), key)
	}
	_, has := out.GetOk("overrideSpecial")
	assert.False(t, has)

	// Two passwords differ.
	again := create(t, s, map[string]property.Value{"length": num(32), "special": boolean(false)})
	assert.NotEqual(t, pw, again.Properties.Get("result").AsString())
}

func TestPreview(t *testing.T) {
	s := newServer(t)
	checked, failures := check(t, s, map[string]property.Value{"length": num(16)})
	require.Empty(t, failures)
	resp, err := s.Create(p.CreateRequest{Urn: urn, Properties: checked, DryRun: true})
	require.NoError(t, err)
	assert.True(t, resp.Properties.Get("result").IsComputed())
	assert.True(t, resp.Properties.Get("bcryptHash").IsComputed())
	assert.Equal(t, true, resp.Properties.Get("special").AsBool(), "defaults are known at preview")
}

func count(s, set string) int {
	n := 0
	for _, r := range s {
		if strings.ContainsRune(set, r) {
			n++
		}
	}
	return n
}

const (
	upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower = "abcdefghijklmnopqrstuvwxyz"
	digit = "0123456789"
)

func TestCharacterRules(t *testing.T) {
	s := newServer(t)
	// Minimums: every class represented at least as often as asked.
	for i := 0; i < 20; i++ {
		pw := create(t, s, map[string]property.Value{
			"length": num(12), "minUpper": num(3), "minLower": num(3), "minNumeric": num(3), "minSpecial": num(3),
		}).Properties.Get("result").AsString()
		assert.Len(t, pw, 12)
		assert.GreaterOrEqual(t, count(pw, upper), 3, pw)
		assert.GreaterOrEqual(t, count(pw, lower), 3, pw)
		assert.GreaterOrEqual(t, count(pw, digit), 3, pw)
		assert.GreaterOrEqual(t, count(pw, random.DefaultSpecial), 3, pw)
	}
	// Only the override special characters.
	pw := create(t, s, map[string]property.Value{
		"length": num(40), "upper": boolean(false), "lower": boolean(false), "numeric": boolean(false),
		"overrideSpecial": str("#%"),
	}).Properties.Get("result").AsString()
	assert.Equal(t, 40, count(pw, "#%"), pw)
	// The deprecated `number` works like numeric.
	pw = create(t, s, map[string]property.Value{
		"length": num(40), "special": boolean(false), "number": boolean(false),
	}).Properties.Get("result").AsString()
	assert.Equal(t, 40, count(pw, upper+lower), pw)
	// As upstream, a minimum draws from its class even when the class is off.
	pw = create(t, s, map[string]property.Value{
		"length": num(10), "upper": boolean(false), "minUpper": num(2), "special": boolean(false),
	}).Properties.Get("result").AsString()
	assert.Equal(t, 2, count(pw, upper), pw)
	// Length counts characters, not bytes.
	out := create(t, s, map[string]property.Value{
		"length": num(10), "upper": boolean(false), "lower": boolean(false), "numeric": boolean(false),
		"overrideSpecial": str("°"), "minSpecial": num(5),
	}).Properties
	assert.Equal(t, 10, utf8.RuneCountInString(out.Get("result").AsString()))
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(out.Get("bcryptHash").AsString()),
		[]byte(out.Get("result").AsString())))
}

func TestCheckFailures(t *testing.T) {
	s := newServer(t)
	cases := map[string]struct {
		inputs map[string]property.Value
		prop   string
	}{
		"zero length":       {map[string]property.Value{"length": num(0)}, "length"},
		"length below mins": {map[string]property.Value{"length": num(4), "minUpper": num(3), "minSpecial": num(2)}, "length"},
		"number != numeric": {map[string]property.Value{"length": num(8), "number": boolean(true), "numeric": boolean(false)}, "number"},
		"empty set": {map[string]property.Value{"length": num(8), "numeric": boolean(false),
			"special": boolean(false), "upper": boolean(false), "lower": boolean(false)}, "numeric"},
		"missing length": {map[string]property.Value{}, "length"},
	}
	for name, c := range cases {
		_, failures := check(t, s, c.inputs)
		require.NotEmpty(t, failures, name)
		assert.Equal(t, c.prop, failures[0].Property, name)
	}
	// Unknown values skip the checks that need them.
	_, failures := check(t, s, map[string]property.Value{"length": computed(), "minUpper": num(3)})
	assert.Empty(t, failures)
	// numeric false alone is fine: the unset classes default to true.
	_, failures = check(t, s, map[string]property.Value{"length": num(8), "numeric": boolean(false), "special": boolean(false)})
	assert.Empty(t, failures)
}

func TestDiff(t *testing.T) {
	s := newServer(t)
	base := map[string]property.Value{
		"length": num(24), "special": boolean(false),
		"keepers": property.New(map[string]property.Value{"k": str("1")}),
	}
	created := create(t, s, base)
	diff := func(changes map[string]property.Value, drop ...string) p.DiffResponse {
		t.Helper()
		news := map[string]property.Value{}
		for k, v := range base {
			news[k] = v
		}
		for k, v := range changes {
			news[k] = v
		}
		for _, k := range drop {
			delete(news, k)
		}
		resp, err := s.Diff(p.DiffRequest{Urn: urn, ID: "none", State: created.Properties, Inputs: property.NewMap(news)})
		require.NoError(t, err)
		return resp
	}
	replaces := func(d p.DiffResponse, key string) {
		t.Helper()
		assert.True(t, d.HasChanges, key)
		require.Contains(t, d.DetailedDiff, key)
		assert.Contains(t, string(d.DetailedDiff[key].Kind), "replace", key)
	}

	assert.False(t, diff(nil).HasChanges)
	// Spelling out a default is no change.
	assert.False(t, diff(map[string]property.Value{"upper": boolean(true), "minLower": num(0), "numeric": boolean(true)}).HasChanges)

	replaces(diff(map[string]property.Value{"length": num(25)}), "length")
	replaces(diff(map[string]property.Value{"special": boolean(true)}), "special")
	replaces(diff(nil, "special"), "special") // back to the default true
	replaces(diff(map[string]property.Value{"upper": boolean(false)}), "upper")
	replaces(diff(map[string]property.Value{"lower": boolean(false)}), "lower")
	replaces(diff(map[string]property.Value{"minNumeric": num(2)}), "minNumeric")
	replaces(diff(map[string]property.Value{"number": boolean(false)}), "numeric")
	replaces(diff(map[string]property.Value{"overrideSpecial": str("!")}), "overrideSpecial")
	replaces(diff(map[string]property.Value{"keepers": property.New(map[string]property.Value{"k": str("2")})}), "keepers")
	replaces(diff(nil, "keepers"), "keepers")
	replaces(diff(map[string]property.Value{"length": computed()}), "length")
	replaces(diff(map[string]property.Value{"keepers": computed()}), "keepers")

	// keepers: unset and empty are the same.
	noKeepers := map[string]property.Value{"length": num(8)}
	created2 := create(t, s, noKeepers)
	d, err := s.Diff(p.DiffRequest{Urn: urn, ID: "none", State: created2.Properties, Inputs: property.NewMap(map[string]property.Value{
		"length": num(8), "keepers": property.New(map[string]property.Value{}),
	})})
	require.NoError(t, err)
	assert.False(t, d.HasChanges)

	// overrideSpecial "" -> unset: an update that keeps the password.
	withEmpty := create(t, s, map[string]property.Value{"length": num(8), "overrideSpecial": str("")})
	d, err = s.Diff(p.DiffRequest{Urn: urn, ID: "none", State: withEmpty.Properties, Inputs: property.NewMap(noKeepers)})
	require.NoError(t, err)
	assert.True(t, d.HasChanges)
	assert.Equal(t, p.Delete, d.DetailedDiff["overrideSpecial"].Kind)
	checked, _ := check(t, s, noKeepers)
	up, err := s.Update(p.UpdateRequest{Urn: urn, ID: "none", State: withEmpty.Properties, Inputs: checked})
	require.NoError(t, err)
	assert.Equal(t, withEmpty.Properties.Get("result").AsString(), up.Properties.Get("result").AsString())
	assert.True(t, up.Properties.Get("result").Secret())
	assert.True(t, up.Properties.Get("bcryptHash").Secret())
	_, has := up.Properties.GetOk("overrideSpecial")
	assert.False(t, has)
}

func TestReadAndDelete(t *testing.T) {
	s := newServer(t)
	created := create(t, s, map[string]property.Value{"length": num(8)})
	read, err := s.Read(p.ReadRequest{Urn: urn, ID: "none", Properties: created.Properties})
	require.NoError(t, err)
	assert.Equal(t, created.Properties.Get("result").AsString(), read.Properties.Get("result").AsString())
	require.NoError(t, s.Delete(p.DeleteRequest{Urn: urn, ID: "none", Properties: created.Properties}))
}

func TestGenerateEmptySet(t *testing.T) {
	_, err := random.Generate(random.RandomPasswordState{Length: 4})
	require.Error(t, err)
}
