// Command pulumi-resource-random is the provider plugin the Pulumi engine starts for the "random"
// package. It serves the schema and metadata cmd/pulumi-tfgen-random generated, which must be in
// this directory when it is built (tools/pulumi/install.sh generates them into a build copy).
package main

import (
	"context"
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"github.com/terraform-providers/terraform-provider-random/pulumibridge"
)

// version is set at build time to the same value the schema was generated with.
var version = "0.0.0-dev"

//go:embed schema.json
var schema []byte

//go:embed bridge-metadata.json
var metadata []byte

func main() {
	ctx := context.Background()
	tfbridge.Main(ctx, pulumibridge.Package, pulumibridge.Info(version, metadata),
		tfbridge.ProviderMetadata{PackageSchema: schema})
}
