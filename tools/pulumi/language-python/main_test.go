package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
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

func TestAPluginRunsAsItsDirectoryUnbufferedWithTheEnginesArgumentsAfter(t *testing.T) {
	info := &pulumirpc.ProgramInfo{ProgramDirectory: "/repo/policy", EntryPoint: "."}
	got := pluginArgs(info, []string{"127.0.0.1:4321"})
	want := []string{"-u", "/repo/policy", "127.0.0.1:4321"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("pluginArgs = %q, want %q", got, want)
	}
}

func TestAPluginWithoutAnEntryPointRunsItsDirectory(t *testing.T) {
	got := pluginArgs(&pulumirpc.ProgramInfo{ProgramDirectory: "/repo/policy"}, nil)
	if len(got) != 2 || got[1] != "/repo/policy" {
		t.Errorf("pluginArgs = %q, want the directory itself", got)
	}
}

// variables reads NAME=value entries into a map, failing on a name given twice.
func variables(t *testing.T, env []string) map[string]string {
	t.Helper()
	values := map[string]string{}
	for _, entry := range env {
		name, value, _ := strings.Cut(entry, "=")
		if _, seen := values[name]; seen {
			t.Fatalf("%s set twice in %q", name, env)
		}
		values[name] = value
	}
	return values
}

func TestAPluginGetsTheEnginesEnvironmentWithTheVenvActivated(t *testing.T) {
	env := variables(t, pluginEnvironment([]string{
		"PATH=/usr/bin",
		"PULUMI_POLICY_PACK_ONLY=1",
		"VIRTUAL_ENV=/elsewhere/.venv",
		"PYTHONHOME=/elsewhere",
	}, "/repo/.venv"))
	if env["PULUMI_POLICY_PACK_ONLY"] != "1" {
		t.Errorf("the engine's own variable was dropped: %q", env)
	}
	if !strings.HasPrefix(env["PATH"], "/repo/.venv/bin:") || !strings.HasSuffix(env["PATH"], ":/usr/bin") {
		t.Errorf("PATH = %q, want the venv's bin first, then the engine's PATH", env["PATH"])
	}
	if env["VIRTUAL_ENV"] != "/repo/.venv" {
		t.Errorf("VIRTUAL_ENV = %q, want the toolchain's venv", env["VIRTUAL_ENV"])
	}
	if _, ok := env["PYTHONHOME"]; ok {
		t.Errorf("PYTHONHOME must be unset for the venv's python: %q", env)
	}
}

func TestAPluginWithoutAVenvGetsTheEnginesEnvironmentUnchanged(t *testing.T) {
	engine := []string{"PATH=/usr/bin", "HOME=/root"}
	got := pluginEnvironment(engine, "")
	if strings.Join(got, "\n") != strings.Join(engine, "\n") {
		t.Errorf("pluginEnvironment = %q, want %q", got, engine)
	}
}

func TestAnEngineThatSendsNoEnvironmentLeavesTheToolchainsOwn(t *testing.T) {
	if got := pluginEnvironment(nil, "/repo/.venv"); got != nil {
		t.Errorf("pluginEnvironment = %q, want nil (keep the toolchain's)", got)
	}
}

// recordingStream is the engine's end of a RunPlugin stream: it keeps every message sent.
type recordingStream struct {
	grpc.ServerStream
	mu   sync.Mutex
	sent []*pulumirpc.RunPluginResponse
}

func (s *recordingStream) Context() context.Context { return context.Background() }

func (s *recordingStream) Send(msg *pulumirpc.RunPluginResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, msg)
	return nil
}

func TestRunPluginStreamsThePluginsOutputAndEndsWithItsExitCode(t *testing.T) {
	// A venv whose python is a script: it reports its argv and working directory, writes to
	// stderr and exits 3, which is what the engine must get back.
	root := t.TempDir()
	bin := filepath.Join(root, "venv", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"argv: $*\"\necho \"pwd: $(pwd)\"\necho \"venv: $VIRTUAL_ENV\"\n" +
		"echo \"marker: $ENGINE_MARKER\"\necho oops >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(bin, "python"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	options, err := structpb.NewStruct(map[string]any{"virtualenv": "venv"})
	if err != nil {
		t.Fatal(err)
	}
	pwd := t.TempDir()
	stream := &recordingStream{}
	host := &languageHost{}
	err = host.RunPlugin(&pulumirpc.RunPluginRequest{
		Pwd:  pwd,
		Args: []string{"127.0.0.1:4321"},
		Env:  []string{"PATH=/usr/bin:/bin", "ENGINE_MARKER=from-the-engine"},
		Kind: "analyzer",
		Info: &pulumirpc.ProgramInfo{
			RootDirectory: root, ProgramDirectory: root, EntryPoint: ".", Options: options,
		},
	}, stream)
	if err != nil {
		t.Fatal(err)
	}

	var stdout, stderr strings.Builder
	for i, msg := range stream.sent {
		switch out := msg.GetOutput().(type) {
		case *pulumirpc.RunPluginResponse_Stdout:
			stdout.Write(out.Stdout)
		case *pulumirpc.RunPluginResponse_Stderr:
			stderr.Write(out.Stderr)
		case *pulumirpc.RunPluginResponse_Exitcode:
			if i != len(stream.sent)-1 {
				t.Errorf("exit code sent before the end of the output: %v", stream.sent)
			}
			if out.Exitcode != 3 {
				t.Errorf("exit code %d, want 3", out.Exitcode)
			}
		}
	}
	if _, ok := stream.sent[len(stream.sent)-1].GetOutput().(*pulumirpc.RunPluginResponse_Exitcode); !ok {
		t.Fatalf("the last message is not the exit code: %v", stream.sent)
	}
	want := []string{
		"argv: -u " + root + " 127.0.0.1:4321",
		"pwd: " + pwd,
		"venv: " + filepath.Join(root, "venv"),
		"marker: from-the-engine",
	}
	if got := strings.Split(strings.TrimSpace(stdout.String()), "\n"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("plugin stdout = %q, want %q", got, want)
	}
	if stderr.String() != "oops\n" {
		t.Errorf("plugin stderr = %q, want %q", stderr.String(), "oops\n")
	}
}
