// Command pulumi-language-python is the language host the Pulumi engine starts for a `runtime: python`
// project. It answers the engine's LanguageRuntime gRPC calls and runs the program through
// pulumi-language-python-exec, the upstream runner script shipped in the SDK module, which must sit
// beside this binary (the install script puts it there).
//
// It covers what `pulumi preview` and `pulumi up` need: Run, GetPluginInfo and the plugin questions.
// Dependency installation stays with uv (`make setup`), so InstallDependencies, About and the
// code-generation calls answer Unimplemented, which the engine treats as an older host.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is the Python SDK release whose runner script this host executes; set at build time.
var version = "3.272.0"

// exitShownToUser is the runner script's exit code for "the error was already reported": the engine
// must then bail without printing a second, less helpful message.
const exitShownToUser = 32

func main() {
	// The engine may pass flags that older hosts accept; unknown ones must not stop the host.
	flags := flag.NewFlagSet("pulumi-language-python", flag.ContinueOnError)
	tracing := flags.String("tracing", "", "Zipkin-compatible tracing endpoint, handed to the program")
	_ = flags.String("root", "", "project root (ignored: the engine sends it with every request)")
	if err := flags.Parse(os.Args[1:]); err != nil {
		cmdutil.Exit(err)
	}
	logging.InitLogging(false, 0, false)

	self, err := os.Executable()
	if err != nil {
		cmdutil.Exit(fmt.Errorf("cannot locate this executable: %w", err))
	}
	runner := self + "-exec"
	if _, err := os.Stat(runner); err != nil {
		cmdutil.Exit(fmt.Errorf("runner script missing beside the language host: %w", err))
	}

	var engineAddress string
	if args := flags.Args(); len(args) > 0 {
		engineAddress = args[0]
	}

	host := &languageHost{runner: runner, engineAddress: engineAddress, tracing: *tracing}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start the language host gRPC server: %w", err))
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host gRPC server stopped: %w", err))
	}
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	runner        string
	engineAddress string
	tracing       string
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// GetRequiredPlugins and GetRequiredPackages answer "none in advance": the engine then loads each
// provider when the program first registers one of its resources, from the plugins installed locally.
func (h *languageHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *languageHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	if info == nil {
		return nil, errors.New("run request carries no program info; this engine is too old for this host")
	}
	options, err := pythonOptions(info)
	if err != nil {
		return nil, err
	}
	tc, err := toolchain.ResolveToolchain(options)
	if err != nil {
		return nil, err
	}

	configEnv, err := configEnvironment(req)
	if err != nil {
		return nil, err
	}

	// -u: unbuffered, so the program's prints reach the engine while it runs.
	cmd, err := tc.Command(ctx, append([]string{"-u", h.runner}, h.runnerArgs(req, info)...)...)
	if err != nil {
		return nil, err
	}
	cmd.Dir = info.GetProgramDirectory()
	// Config goes through the environment, never argv, because it may hold secret values.
	cmd.Env = append(cmd.Environ(), configEnv...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitShownToUser {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("could not run the Python runner %s: %v", h.runner, err),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// configEnvironment is the stack's config as the runner reads it: PULUMI_CONFIG, a JSON object of
// every key, and PULUMI_CONFIG_SECRET_KEYS, a JSON array of those that are secret. A stack without
// config of its own sends neither; they must still be an empty object and array, because the SDK
// iterates over them and a JSON null stops the program before it starts.
func configEnvironment(req *pulumirpc.RunRequest) ([]string, error) {
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("serialising stack config: %w", err)
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("serialising secret config keys: %w", err)
	}
	return []string{
		"PULUMI_CONFIG=" + string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS=" + string(secretKeysJSON),
	}, nil
}

func (h *languageHost) runnerArgs(req *pulumirpc.RunRequest, info *pulumirpc.ProgramInfo) []string {
	var args []string
	add := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("project", req.GetProject())
	add("root_directory", info.GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", fmt.Sprintf("%t", req.GetDryRun()))
	add("parallel", fmt.Sprint(req.GetParallel()))
	add("tracing", h.tracing)
	add("organization", req.GetOrganization())

	program := info.GetEntryPoint()
	if program == "" {
		program = "."
	}
	args = append(args, filepath.Join(info.GetProgramDirectory(), program))
	return append(args, req.GetArgs()...)
}

// pythonOptions reads the `runtime.options` of Pulumi.yaml that choose the interpreter.
func pythonOptions(info *pulumirpc.ProgramInfo) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
	}
	raw := info.GetOptions().AsMap()
	if v, ok := raw["virtualenv"]; ok {
		s, isString := v.(string)
		if !isString {
			return opts, errors.New("runtime option virtualenv must be a string")
		}
		opts.Virtualenv = s
	}
	if v, ok := raw["toolchain"]; ok {
		s, _ := v.(string)
		switch strings.ToLower(s) {
		case "pip":
			opts.Toolchain = toolchain.Pip
		case "poetry":
			opts.Toolchain = toolchain.Poetry
		case "uv":
			opts.Toolchain = toolchain.Uv
		default:
			return opts, fmt.Errorf("unsupported runtime option toolchain: %v", v)
		}
	}
	if _, ok := raw["typechecker"]; ok {
		return opts, errors.New("runtime option typechecker is not supported by this language host")
	}
	return opts, nil
}
