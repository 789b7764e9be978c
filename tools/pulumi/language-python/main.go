// Command pulumi-language-python is the language host the Pulumi engine starts for a `runtime: python`
// project. It answers the engine's LanguageRuntime gRPC calls and runs the program through
// pulumi-language-python-exec, the upstream runner script shipped in the SDK module, which must sit
// beside this binary (the install script puts it there).
//
// It covers what `pulumi preview` and `pulumi up` need: Run, GetPluginInfo and the plugin questions,
// and RunPlugin, which starts a plugin written in Python (the project's policy pack, policy/).
// Dependency installation stays with uv (`make setup`), so InstallDependencies, About and the
// code-generation calls answer Unimplemented, which the engine treats as an older host.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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

// RunPlugin starts a plugin whose program is Python source rather than a binary: the engine sends a
// policy pack directory (PulumiPolicy.yaml, `runtime: python`) here, as it would a Python provider. The
// interpreter is chosen from the pack's runtime options exactly as Run chooses it for a program, so
// `toolchain: uv` runs the workspace venv that holds pulumi_policy. The plugin's stdout and stderr go
// back to the engine as stream messages (its first stdout line is the port it serves on), and the
// last message is its exit code.
func (h *languageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	info := req.GetInfo()
	if info == nil {
		return errors.New("run plugin request carries no program info; this engine is too old for this host")
	}
	if req.GetAttachDebugger() {
		return status.Error(codes.Unimplemented, "this language host cannot start a plugin under a debugger")
	}
	options, err := pythonOptions(info)
	if err != nil {
		return err
	}
	tc, err := toolchain.ResolveToolchain(options)
	if err != nil {
		return err
	}
	ctx := server.Context()
	// The context ends when the engine kills the plugin (it cancels the stream), which kills python.
	cmd, err := tc.Command(ctx, pluginArgs(info, req.GetArgs())...)
	if err != nil {
		return err
	}
	venv, err := tc.VirtualEnvPath(ctx)
	if err != nil {
		return err
	}
	if env := pluginEnvironment(req.GetEnv(), venv); env != nil {
		cmd.Env = env
	}
	if pwd := req.GetPwd(); pwd != "" {
		cmd.Dir = pwd
	}

	out := &streamSender{server: server}
	cmd.Stdout = out.writer(func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}}
	})
	cmd.Stderr = out.writer(func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}}
	})

	code := 0
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("could not run the Python plugin in %s: %w", info.GetProgramDirectory(), err)
		}
		code = exitErr.ExitCode()
	}
	return out.send(&pulumirpc.RunPluginResponse{
		Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)},
	})
}

// pluginArgs is python's command line for a plugin: its directory (or entry point in it), which python
// runs through the directory's __main__.py with the directory first on sys.path, so a pack's own modules
// import; then the engine's arguments (for a policy pack, the engine's address). -u: the port the
// plugin prints must reach the engine at once, not when a buffer fills, and pulumi_policy does not
// flush it.
func pluginArgs(info *pulumirpc.ProgramInfo, args []string) []string {
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	return append([]string{"-u", filepath.Join(info.GetProgramDirectory(), entry)}, args...)
}

// pluginEnvironment is the plugin's environment: the one the engine chose for it (it may add a
// pack's own variables to its own), with the toolchain's virtualenv activated on top the way the
// toolchain activates it for a program. An engine that sends none leaves the toolchain's (nil).
func pluginEnvironment(engineEnv []string, venv string) []string {
	if len(engineEnv) == 0 {
		return nil
	}
	if venv == "" {
		return append([]string(nil), engineEnv...)
	}
	return toolchain.ActivateVirtualEnv(engineEnv, venv)
}

// streamSender serialises a plugin's stdout and stderr onto the one response stream: exec copies each
// from its own goroutine, and a gRPC stream must not be sent on from two at once.
type streamSender struct {
	mu     sync.Mutex
	server pulumirpc.LanguageRuntime_RunPluginServer
}

func (s *streamSender) send(msg *pulumirpc.RunPluginResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.server.Send(msg)
}

func (s *streamSender) writer(wrap func([]byte) *pulumirpc.RunPluginResponse) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		// exec reuses b for the next read as soon as Write returns, and gRPC may still hold the
		// message then (it must not be modified after Send), so the message gets its own copy.
		if err := s.send(wrap(append([]byte(nil), b...))); err != nil {
			return 0, err
		}
		return len(b), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

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
