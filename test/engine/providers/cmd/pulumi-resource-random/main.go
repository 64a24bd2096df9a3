// Command pulumi-resource-random is a test stand-in for the Pulumi random
// provider 4.21.2, limited to `random:index/randomPassword:RandomPassword`.
package main

import (
	"context"
	"fmt"
	"os"

	p "github.com/pulumi/pulumi-go-provider"

	"k8s-lab/test/engine/providers/random"
)

func main() {
	if err := p.RunProvider(context.Background(), random.Name, random.Version, random.NewProvider()); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %s", err.Error())
		os.Exit(1)
	}
}
