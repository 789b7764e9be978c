"""The pipeline on Kubernetes: typed stack config composed from ComponentResources."""
