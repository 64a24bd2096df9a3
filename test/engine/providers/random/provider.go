package random

import (
	"context"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi-go-provider/middleware/schema"
)

// The plugin name and version the stand-in reports.
const (
	Name    = "random"
	Version = "4.21.2"
)

// NewProvider returns the provider: infer supplies the schema, Check, Create,
// Read, Update and Delete; Diff for RandomPassword is Diff above.
func NewProvider() p.Provider {
	prov := infer.Provider(infer.Options{
		Metadata: schema.Metadata{
			DisplayName: "Random",
			Description: "Test stand-in for the Pulumi Random provider 4.21.2 (RandomPassword only).",
			Keywords:    []string{"pulumi", "random"},
			Homepage:    "https://pulumi.io",
			License:     "Apache-2.0",
			Repository:  "https://github.com/pulumi/pulumi-random",
			Publisher:   "Pulumi",
		},
		Resources: []infer.InferredResource{infer.Resource(&RandomPassword{})},
	})
	inner := prov.Diff
	prov.Diff = func(ctx context.Context, req p.DiffRequest) (p.DiffResponse, error) {
		if string(req.Urn.Type()) == Token {
			return Diff(req)
		}
		return inner(ctx, req)
	}
	return prov
}
