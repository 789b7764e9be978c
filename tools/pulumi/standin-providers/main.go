// Command pulumi-resource-standin answers the Pulumi engine for a provider that cannot be built here,
// for `pulumi preview` only. Installed under the provider's plugin name (pulumi-resource-random, ...),
// it takes its role from that name.
//
// What it does is what the real provider does during a preview of new resources: accept the inputs,
// report a create, and leave every output unknown (the engine shows them as "output<string>"). The one
// value a preview needs for real is a Terraform state's outputs, and those it reads from the local
// state file as pulumi-terraform does. Anything that would change the world (create, update, delete)
// fails with a message that says which real provider is missing, so `pulumi up` cannot run on it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// standinVersion marks, wherever the engine shows a plugin version, that this is not the real provider.
const standinVersion = "0.0.0-preview-standin"

func main() {
	name := strings.TrimPrefix(filepath.Base(os.Args[0]), "pulumi-resource-")
	switch name {
	case "terraform", "random", "docker":
	default:
		cmdutil.Exit(fmt.Errorf("stand-in provider started as %q; install it as pulumi-resource-<terraform|random|docker>", name))
	}
	provider := &standin{name: name}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, provider)
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start the stand-in %s provider: %w", name, err))
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(err)
	}
}

type standin struct {
	pulumirpc.UnimplementedResourceProviderServer
	name string
}

func (p *standin) refuse(operation string) error {
	return status.Errorf(codes.FailedPrecondition,
		"%s: the %s provider here is a preview-only stand-in (its Go module is not served by the module "+
			"proxy); install the real pulumi-resource-%s to run `pulumi up`", operation, p.name, p.name)
}

func (p *standin) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: standinVersion}, nil
}

func (p *standin) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *standin) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

// Configure declines preview support, so the engine never asks this provider to create anything during
// a preview and leaves every output of its resources unknown.
func (p *standin) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: false}, nil
}

func (p *standin) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// Diff says "unknown" rather than inventing an answer it cannot compute.
func (p *standin) Diff(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_UNKNOWN}, nil
}

func (p *standin) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if req.GetPreview() {
		return &pulumirpc.CreateResponse{}, nil
	}
	return nil, p.refuse("create " + req.GetUrn())
}

func (p *standin) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return nil, p.refuse("read " + req.GetUrn())
}

func (p *standin) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if req.GetPreview() {
		return &pulumirpc.UpdateResponse{}, nil
	}
	return nil, p.refuse("update " + req.GetUrn())
}

func (p *standin) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return nil, p.refuse("delete " + req.GetUrn())
}

func (p *standin) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (p *standin) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if p.name == "terraform" && req.GetTok() == "terraform:state:getLocalReference" {
		return localStateOutputs(req.GetArgs())
	}
	return nil, p.refuse("invoke " + req.GetTok())
}

// localStateOutputs reads the outputs of a Terraform state file, the shape pulumi-terraform's
// state.getLocalReference returns: {"outputs": {name: value}}.
func localStateOutputs(args *structpb.Struct) (*pulumirpc.InvokeResponse, error) {
	path := args.GetFields()["path"].GetStringValue()
	if path == "" {
		return nil, status.Error(codes.InvalidArgument, "getLocalReference needs a path")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, status.Errorf(codes.NotFound, "reading Terraform state: %v", err)
	}
	var state struct {
		Outputs map[string]struct {
			Value any `json:"value"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(raw, &state); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "Terraform state %s is not JSON: %v", path, err)
	}
	outputs := make(map[string]any, len(state.Outputs))
	for name, output := range state.Outputs {
		outputs[name] = output.Value
	}
	ret, err := structpb.NewStruct(map[string]any{"outputs": outputs})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding outputs of %s: %v", path, err)
	}
	return &pulumirpc.InvokeResponse{Return: ret}, nil
}
