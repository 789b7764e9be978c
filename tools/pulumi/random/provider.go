// Package pulumibridge maps the Terraform random provider onto Pulumi's "random" package: the same
// resource tokens and property names as pulumi-random's schema, which the project's program reaches
// through the pulumi_random Python SDK. The schema generator (cmd/pulumi-tfgen-random) and the
// provider (cmd/pulumi-resource-random) both start from Info, so what is generated is what is served.
package pulumibridge

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	bridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// Package is the Pulumi package name: the SDK registers its resources as "random:index/...".
const Package = "random"

// module is the one Pulumi module pulumi-random puts every resource in.
const module = "index"

// resourceNames maps each Terraform resource type to its Pulumi type name. pulumi-random keeps the
// "Random" prefix (random_password -> RandomPassword), unlike the bridge's default token rule, which
// would drop it; listing them also makes a resource added upstream fail generation (it has no
// mapping) instead of appearing under a name no SDK knows.
var resourceNames = map[string]string{
	"random_bytes":    "RandomBytes",
	"random_id":       "RandomId",
	"random_integer":  "RandomInteger",
	"random_password": "RandomPassword",
	"random_pet":      "RandomPet",
	"random_shuffle":  "RandomShuffle",
	"random_string":   "RandomString",
	"random_uuid":     "RandomUuid",
	"random_uuid4":    "RandomUuid4",
	"random_uuid7":    "RandomUuid7",
}

// Info describes the provider to the bridge. version is what the plugin reports (semver); metadata
// is the bridge-metadata.json the schema generator wrote (nil when generating it).
func Info(version string, metadata []byte) bridge.ProviderInfo {
	resources := make(map[string]*bridge.ResourceInfo, len(resourceNames))
	for tfType, name := range resourceNames {
		resources[tfType] = &bridge.ResourceInfo{Tok: bridge.MakeResource(Package, module, name)}
	}
	return bridge.ProviderInfo{
		P:           tfbridge.ShimProvider(provider.New()),
		Name:        "random",
		Version:     version,
		Description: "Random values (passwords, ids, integers, ...) generated once and kept in state.",
		License:     "Apache-2.0",
		Repository:  "https://github.com/terraform-providers/terraform-provider-random",
		// Generation refuses a provider without metadata; it starts empty and the generator fills it.
		MetadataInfo: bridge.NewProviderMetadata(metadata),
		Resources:    resources,
	}
}
