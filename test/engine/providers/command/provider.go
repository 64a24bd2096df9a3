// Package command assembles the stand-in for pulumi-resource-command 1.2.1:
// the `command:remote:Command` resource and the `command:local:run` function.
package command

import (
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi-go-provider/middleware/schema"

	"k8s-lab/test/engine/providers/command/local"
	"k8s-lab/test/engine/providers/command/remote"
)

// The plugin name and version the stand-in reports.
const (
	Name    = "command"
	Version = "1.2.1"
)

// NewProvider returns the provider.
func NewProvider() p.Provider {
	return infer.Provider(infer.Options{
		Metadata: schema.Metadata{
			DisplayName: "Command",
			Description: "Test stand-in for the Pulumi Command provider 1.2.1 (remote.Command and local.run only).",
			Keywords:    []string{"pulumi", "command", "category/utility", "kind/native"},
			Homepage:    "https://pulumi.com",
			License:     "Apache-2.0",
			Repository:  "https://github.com/pulumi/pulumi-command",
			Publisher:   "Pulumi",
		},
		Resources: []infer.InferredResource{
			infer.Resource(&remote.Command{}),
		},
		Functions: []infer.InferredFunction{
			infer.Function(&local.Run{}),
		},
	})
}
