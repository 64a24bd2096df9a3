// Package random is a stand-in for pulumi-random 4.21.2 limited to
// `random:index/randomPassword:RandomPassword`. Upstream bridges the Terraform
// random provider (github.com/terraform-providers/terraform-provider-random,
// internal/provider/resource_password.go and internal/random/string.go); this
// package reproduces that resource's behaviour on pulumi-go-provider.
package random

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"golang.org/x/crypto/bcrypt"
)

// Token is the resource's type token.
const Token = "random:index/randomPassword:RandomPassword"

// The character classes, as upstream.
const (
	upperChars   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerChars   = "abcdefghijklmnopqrstuvwxyz"
	numericChars = "0123456789"
	// DefaultSpecial is the special character set used unless overrideSpecial is given.
	DefaultSpecial = "!@#$%&*()-_=+[]{}<>:?"
)

// RandomPassword is the resource.
type RandomPassword struct{}

// RandomPasswordArgs are the inputs; every one of them replaces the resource when it changes.
type RandomPasswordArgs struct {
	Keepers         map[string]string `pulumi:"keepers,optional"`
	Length          int               `pulumi:"length"`
	Lower           *bool             `pulumi:"lower,optional"`
	MinLower        *int              `pulumi:"minLower,optional"`
	MinNumeric      *int              `pulumi:"minNumeric,optional"`
	MinSpecial      *int              `pulumi:"minSpecial,optional"`
	MinUpper        *int              `pulumi:"minUpper,optional"`
	Number          *bool             `pulumi:"number,optional"`
	Numeric         *bool             `pulumi:"numeric,optional"`
	OverrideSpecial *string           `pulumi:"overrideSpecial,optional"`
	Special         *bool             `pulumi:"special,optional"`
	Upper           *bool             `pulumi:"upper,optional"`
}

// RandomPasswordState is the state: the inputs with their defaults resolved, and the password.
type RandomPasswordState struct {
	BcryptHash      string            `pulumi:"bcryptHash" provider:"secret"`
	Keepers         map[string]string `pulumi:"keepers,optional"`
	Length          int               `pulumi:"length"`
	Lower           bool              `pulumi:"lower"`
	MinLower        int               `pulumi:"minLower"`
	MinNumeric      int               `pulumi:"minNumeric"`
	MinSpecial      int               `pulumi:"minSpecial"`
	MinUpper        int               `pulumi:"minUpper"`
	Number          bool              `pulumi:"number"`
	Numeric         bool              `pulumi:"numeric"`
	OverrideSpecial *string           `pulumi:"overrideSpecial,optional"`
	Result          string            `pulumi:"result" provider:"secret"`
	Special         bool              `pulumi:"special"`
	Upper           bool              `pulumi:"upper"`
}

const numberDeprecation = "**NOTE**: This is deprecated, use `numeric` instead."

// Annotate sets the token and the description.
func (r *RandomPassword) Annotate(a infer.Annotator) {
	a.SetToken("index/randomPassword", "RandomPassword")
	a.Describe(&r, "A random password from a cryptographic random number generator; "+
		"`result` and `bcryptHash` are secret.")
}

func annotateShared(a infer.Annotator, keepers, length, lower, minLower, minNumeric, minSpecial, minUpper,
	number, numeric, overrideSpecial, special, upper any) {
	a.Describe(keepers, "Arbitrary values; changing them replaces the resource.")
	a.Describe(length, "The length of the password: at least 1, and at least minUpper + minLower + minNumeric + minSpecial.")
	a.Describe(lower, "Use lowercase letters. Default true.")
	a.Describe(minLower, "At least this many lowercase letters. Default 0.")
	a.Describe(minNumeric, "At least this many digits. Default 0.")
	a.Describe(minSpecial, "At least this many special characters. Default 0.")
	a.Describe(minUpper, "At least this many uppercase letters. Default 0.")
	a.Describe(number, "Use digits. Default true. "+numberDeprecation)
	a.Deprecate(number, numberDeprecation)
	a.Describe(numeric, "Use digits. Default true.")
	a.Describe(overrideSpecial, "The special characters to use instead of `"+DefaultSpecial+"` (special must still be true).")
	a.Describe(special, "Use special characters. Default true.")
	a.Describe(upper, "Use uppercase letters. Default true.")
}

// Annotate describes the inputs.
func (i *RandomPasswordArgs) Annotate(a infer.Annotator) {
	annotateShared(a, &i.Keepers, &i.Length, &i.Lower, &i.MinLower, &i.MinNumeric, &i.MinSpecial, &i.MinUpper,
		&i.Number, &i.Numeric, &i.OverrideSpecial, &i.Special, &i.Upper)
}

// Annotate describes the state.
func (s *RandomPasswordState) Annotate(a infer.Annotator) {
	annotateShared(a, &s.Keepers, &s.Length, &s.Lower, &s.MinLower, &s.MinNumeric, &s.MinSpecial, &s.MinUpper,
		&s.Number, &s.Numeric, &s.OverrideSpecial, &s.Special, &s.Upper)
	a.Describe(&s.Result, "The generated password.")
	a.Describe(&s.BcryptHash, "A bcrypt hash of the password (of its first 72 bytes when it is longer).")
}

var (
	_ infer.CustomResource[RandomPasswordArgs, RandomPasswordState]       = (*RandomPassword)(nil)
	_ infer.CustomCheck[RandomPasswordArgs]                               = (*RandomPassword)(nil)
	_ infer.CustomUpdate[RandomPasswordArgs, RandomPasswordState]         = (*RandomPassword)(nil)
	_ infer.ExplicitDependencies[RandomPasswordArgs, RandomPasswordState] = (*RandomPassword)(nil)
)

// Check validates the inputs as the Terraform schema's validators do; a check
// that involves an unknown value is skipped.
func (*RandomPassword) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[RandomPasswordArgs], error) {
	args, failures, err := infer.DefaultCheck[RandomPasswordArgs](ctx, req.NewInputs)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[RandomPasswordArgs]{Inputs: args, Failures: failures}, err
	}
	in := req.NewInputs
	unknown := func(keys ...string) bool {
		for _, k := range keys {
			if in.Get(k).IsComputed() {
				return true
			}
		}
		return false
	}
	fail := func(prop, reason string) {
		failures = append(failures, p.CheckFailure{Property: prop, Reason: reason})
	}
	if !unknown("length") && args.Length < 1 {
		fail("length", fmt.Sprintf("length must be at least 1, got: %d", args.Length))
	}
	if !unknown("length", "minUpper", "minLower", "minNumeric", "minSpecial") {
		sum := deref(args.MinUpper, 0) + deref(args.MinLower, 0) + deref(args.MinNumeric, 0) + deref(args.MinSpecial, 0)
		if args.Length < sum {
			fail("length", fmt.Sprintf("length must be at least minUpper + minLower + minNumeric + minSpecial (%d), got: %d", sum, args.Length))
		}
	}
	if !unknown("number", "numeric") && args.Number != nil && args.Numeric != nil && *args.Number != *args.Numeric {
		fail("number", "Number and numeric are both configured with different values. Number is deprecated, use numeric instead")
	}
	// number/numeric false needs one of special, upper, lower configured and
	// not false; an unconfigured one counts (its default is true).
	for _, name := range []string{"number", "numeric"} {
		v := map[string]*bool{"number": args.Number, "numeric": args.Numeric}[name]
		if unknown(name, "special", "upper", "lower") || v == nil || *v {
			continue
		}
		if isFalse(args.Special) && isFalse(args.Upper) && isFalse(args.Lower) {
			fail(name, "At least one attribute out of [special upper lower "+name+"] must be specified as true")
		}
	}
	return infer.CheckResponse[RandomPasswordArgs]{Inputs: args, Failures: failures}, nil
}

func isFalse(b *bool) bool { return b != nil && !*b }

func deref[T any](v *T, def T) T {
	if v == nil {
		return def
	}
	return *v
}

// plan resolves the defaults, as the Terraform plan does.
func plan(args RandomPasswordArgs) RandomPasswordState {
	numeric := true
	switch {
	case args.Numeric != nil:
		numeric = *args.Numeric
	case args.Number != nil:
		numeric = *args.Number
	}
	return RandomPasswordState{
		Keepers:         args.Keepers,
		Length:          args.Length,
		Lower:           deref(args.Lower, true),
		MinLower:        deref(args.MinLower, 0),
		MinNumeric:      deref(args.MinNumeric, 0),
		MinSpecial:      deref(args.MinSpecial, 0),
		MinUpper:        deref(args.MinUpper, 0),
		Number:          numeric,
		Numeric:         numeric,
		OverrideSpecial: args.OverrideSpecial,
		Special:         deref(args.Special, true),
		Upper:           deref(args.Upper, true),
	}
}

// Create generates the password. The ID is "none", as upstream's.
func (*RandomPassword) Create(ctx context.Context, req infer.CreateRequest[RandomPasswordArgs]) (infer.CreateResponse[RandomPasswordState], error) {
	state := plan(req.Inputs)
	if req.DryRun {
		return infer.CreateResponse[RandomPasswordState]{Output: state}, nil
	}
	result, err := Generate(state)
	if err != nil {
		return infer.CreateResponse[RandomPasswordState]{}, err
	}
	hash, err := BcryptHash(result)
	if err != nil {
		return infer.CreateResponse[RandomPasswordState]{}, err
	}
	state.Result, state.BcryptHash = result, hash
	return infer.CreateResponse[RandomPasswordState]{ID: "none", Output: state}, nil
}

// Update only happens for changes that need no new password (see Diff); it
// keeps the password and records the new inputs.
func (*RandomPassword) Update(ctx context.Context, req infer.UpdateRequest[RandomPasswordArgs, RandomPasswordState]) (infer.UpdateResponse[RandomPasswordState], error) {
	state := plan(req.Inputs)
	state.Result, state.BcryptHash = req.State.Result, req.State.BcryptHash
	return infer.UpdateResponse[RandomPasswordState]{Output: state}, nil
}

// WireDependencies: result and bcryptHash are always secret; the resolved
// inputs are known at preview, as in a Terraform plan.
func (*RandomPassword) WireDependencies(f infer.FieldSelector, args *RandomPasswordArgs, state *RandomPasswordState) {
	f.OutputField(&state.Result).AlwaysSecret()
	f.OutputField(&state.BcryptHash).AlwaysSecret()
	for _, known := range []any{&state.Length, &state.Lower, &state.MinLower, &state.MinNumeric,
		&state.MinSpecial, &state.MinUpper, &state.Number, &state.Numeric, &state.Special, &state.Upper,
		&state.Keepers, &state.OverrideSpecial} {
		f.OutputField(known).AlwaysKnown()
	}
}

// Generate makes a password: minUpper uppercase, minLower lowercase, minNumeric
// digits and minSpecial special characters (each class whether or not it is
// enabled, as upstream), then the rest from the enabled classes, shuffled.
func Generate(s RandomPasswordState) (string, error) {
	special := DefaultSpecial
	if s.OverrideSpecial != nil && *s.OverrideSpecial != "" {
		special = *s.OverrideSpecial
	}
	pool := ""
	if s.Upper {
		pool += upperChars
	}
	if s.Lower {
		pool += lowerChars
	}
	if s.Numeric {
		pool += numericChars
	}
	if s.Special {
		pool += special
	}
	if pool == "" {
		return "", errors.New("the character set specified is empty")
	}
	out := make([]rune, 0, s.Length)
	for _, class := range []struct {
		chars string
		n     int
	}{{upperChars, s.MinUpper}, {lowerChars, s.MinLower}, {numericChars, s.MinNumeric}, {special, s.MinSpecial}} {
		picked, err := pick(class.chars, class.n)
		if err != nil {
			return "", err
		}
		out = append(out, picked...)
	}
	rest, err := pick(pool, s.Length-len(out))
	if err != nil {
		return "", err
	}
	out = append(out, rest...)
	// Fisher-Yates with crypto/rand.
	for i := len(out) - 1; i > 0; i-- {
		j, err := randInt(i + 1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

func randInt(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}

// pick draws n characters (runes) from chars; n <= 0 draws none.
func pick(chars string, n int) ([]rune, error) {
	if n <= 0 {
		return nil, nil
	}
	set := []rune(chars)
	if len(set) == 0 {
		return nil, errors.New("charSet is empty")
	}
	out := make([]rune, n)
	for i := range out {
		j, err := randInt(len(set))
		if err != nil {
			return nil, err
		}
		out[i] = set[j]
	}
	return out, nil
}

// BcryptHash hashes the password (its first 72 bytes) at bcrypt's default cost.
func BcryptHash(password string) (string, error) {
	b := []byte(password)
	if len(b) > 72 {
		b = b[:72]
	}
	hash, err := bcrypt.GenerateFromPassword(b, bcrypt.DefaultCost)
	return string(hash), err
}

// Diff compares the planned state of the new inputs with the old state, as the
// Terraform plan does: a default equals its explicit value; any change
// replaces, except overrideSpecial going from "" to unset (an update), and
// keepers going between unset and empty (no change). Unknown values replace.
func Diff(req p.DiffRequest) (p.DiffResponse, error) {
	news := req.Inputs
	for _, key := range req.IgnoreChanges {
		if v, ok := req.State.GetOk(key); ok {
			news = news.Set(key, v)
		}
	}
	olds := req.State
	detailed := map[string]p.PropertyDiff{}
	change := func(key string, kind p.DiffKind) { detailed[key] = p.PropertyDiff{Kind: kind, InputDiff: false} }

	boolOr := func(v property.Value, def bool) (bool, bool) { // value, known
		switch {
		case v.IsComputed():
			return false, false
		case v.IsBool():
			return v.AsBool(), true
		default:
			return def, true
		}
	}
	numOr := func(v property.Value, def float64) (float64, bool) {
		switch {
		case v.IsComputed():
			return 0, false
		case v.IsNumber():
			return v.AsNumber(), true
		default:
			return def, true
		}
	}
	oldBool := func(key string, def bool) bool { b, _ := boolOr(olds.Get(key), def); return b }
	oldNum := func(key string) float64 { n, _ := numOr(olds.Get(key), 0); return n }

	for _, key := range []string{"special", "upper", "lower"} {
		if v, known := boolOr(news.Get(key), true); !known || v != oldBool(key, true) {
			change(key, p.UpdateReplace)
		}
	}
	for _, key := range []string{"length", "minUpper", "minLower", "minNumeric", "minSpecial"} {
		if v, known := numOr(news.Get(key), 0); !known || v != oldNum(key) {
			change(key, p.UpdateReplace)
		}
	}
	// number and numeric mirror each other; unset, both are true.
	number, numeric := news.Get("number"), news.Get("numeric")
	if number.IsComputed() || numeric.IsComputed() {
		change("number", p.UpdateReplace)
		change("numeric", p.UpdateReplace)
	} else {
		planned := true
		if numeric.IsBool() {
			planned = numeric.AsBool()
		} else if number.IsBool() {
			planned = number.AsBool()
		}
		for _, key := range []string{"number", "numeric"} {
			if planned != oldBool(key, true) {
				change(key, p.UpdateReplace)
			}
		}
	}
	// overrideSpecial
	newOS, oldOS := news.Get("overrideSpecial"), olds.Get("overrideSpecial")
	switch {
	case newOS.IsComputed():
		change("overrideSpecial", p.UpdateReplace)
	case newOS.IsString() && oldOS.IsString():
		if newOS.AsString() != oldOS.AsString() {
			change("overrideSpecial", p.UpdateReplace)
		}
	case newOS.IsString(): // unset -> set
		change("overrideSpecial", p.AddReplace)
	case oldOS.IsString(): // set -> unset
		if oldOS.AsString() == "" {
			change("overrideSpecial", p.Delete)
		} else {
			change("overrideSpecial", p.DeleteReplace)
		}
	}
	// keepers
	if keepersChanged(news.Get("keepers"), olds.Get("keepers")) {
		change("keepers", p.UpdateReplace)
	}

	return p.DiffResponse{HasChanges: len(detailed) > 0, DetailedDiff: detailed}, nil
}

func keepersChanged(news, olds property.Value) bool {
	if news.IsComputed() {
		return true
	}
	newMap, oldMap := map[string]property.Value{}, map[string]property.Value{}
	if news.IsMap() {
		newMap = news.AsMap().AsMap()
	}
	if olds.IsMap() {
		oldMap = olds.AsMap().AsMap()
	}
	if len(newMap) != len(oldMap) {
		return true
	}
	for k, n := range newMap {
		o, ok := oldMap[k]
		if !ok || n.IsComputed() || !n.IsString() || !o.IsString() || n.AsString() != o.AsString() {
			return true
		}
	}
	return false
}
