package main

import (
	"encoding/json"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// environ reads configEnvironment's entries back as JSON values by variable name.
func environ(t *testing.T, req *pulumirpc.RunRequest) map[string]any {
	t.Helper()
	entries, err := configEnvironment(req)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{}
	for _, entry := range entries {
		name, raw, ok := strings.Cut(entry, "=")
		if !ok {
			t.Fatalf("not NAME=value: %q", entry)
		}
		var value any
		if err := json.Unmarshal([]byte(raw), &value); err != nil {
			t.Fatalf("%s is not JSON: %v", name, err)
		}
		values[name] = value
	}
	return values
}

func TestAStackWithoutConfigGetsAnEmptyObjectAndArrayNotNull(t *testing.T) {
	values := environ(t, &pulumirpc.RunRequest{})
	if config, ok := values["PULUMI_CONFIG"].(map[string]any); !ok || len(config) != 0 {
		t.Errorf("PULUMI_CONFIG = %#v, want an empty JSON object", values["PULUMI_CONFIG"])
	}
	if keys, ok := values["PULUMI_CONFIG_SECRET_KEYS"].([]any); !ok || len(keys) != 0 {
		t.Errorf("PULUMI_CONFIG_SECRET_KEYS = %#v, want an empty JSON array", values["PULUMI_CONFIG_SECRET_KEYS"])
	}
}

func TestAStacksConfigAndSecretKeysReachTheProgramAsJSON(t *testing.T) {
	values := environ(t, &pulumirpc.RunRequest{
		Config:           map[string]string{"proj:token": "s3cret", "proj:target": "eks"},
		ConfigSecretKeys: []string{"proj:token"},
	})
	config, _ := values["PULUMI_CONFIG"].(map[string]any)
	if config["proj:token"] != "s3cret" || config["proj:target"] != "eks" || len(config) != 2 {
		t.Errorf("PULUMI_CONFIG = %#v", values["PULUMI_CONFIG"])
	}
	keys, _ := values["PULUMI_CONFIG_SECRET_KEYS"].([]any)
	if len(keys) != 1 || keys[0] != "proj:token" {
		t.Errorf("PULUMI_CONFIG_SECRET_KEYS = %#v", values["PULUMI_CONFIG_SECRET_KEYS"])
	}
}
