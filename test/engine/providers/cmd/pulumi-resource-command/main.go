// Command pulumi-resource-command is a test stand-in for the Pulumi command
// provider 1.2.1, limited to `command:remote:Command` and `command:local:run`.
package main

import (
	"context"
	"fmt"
	"os"

	p "github.com/pulumi/pulumi-go-provider"

	"k8s-lab/test/engine/providers/command"
)

func main() {
	if err := p.RunProvider(context.Background(), command.Name, command.Version, command.NewProvider()); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %s", err.Error())
		os.Exit(1)
	}
}
