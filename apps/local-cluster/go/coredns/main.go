// CoreDNS with only the plugins the cluster's Corefile uses. The published module's own main
// compiles in every plugin, cloud DNS back-ends included (most of its build time), and `forward`:
// left out here, no configuration can make this CoreDNS send a query anywhere.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	coremain.Run()
}
