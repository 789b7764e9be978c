"""Typed Pulumi ComponentResources for the pipeline on Kubernetes."""
