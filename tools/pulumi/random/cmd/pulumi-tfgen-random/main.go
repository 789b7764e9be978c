// Command pulumi-tfgen-random writes the Pulumi schema of the random provider (schema.json) and the
// bridge's metadata (bridge-metadata.json), which cmd/pulumi-resource-random embeds:
//
//	pulumi-tfgen-random schema --out <dir> --skip-examples
//
// RANDOM_UPSTREAM_DIR names the upstream module's directory, whose docs/ become the schema's
// descriptions; without it, the generator looks the module up itself and warns when it cannot.
package main

import (
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"github.com/terraform-providers/terraform-provider-random/pulumibridge"
)

// version is set at build time; the generator requires a semver one.
var version = "0.0.0-dev"

func main() {
	info := pulumibridge.Info(version, nil)
	info.UpstreamRepoPath = os.Getenv("RANDOM_UPSTREAM_DIR")
	tfgen.Main(pulumibridge.Package, info)
}
