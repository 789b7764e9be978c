output "namespace" {
  description = "Namespace the Pulumi program deploys the pipeline into."
  value       = kubernetes_namespace_v1.pipeline.metadata[0].name
}

output "registry_url" {
  description = "Registry host (and port) Pulumi pushes the app images to; images are <registry_url>/<repository>:<tag>."
  value = (
    local.is_minikube
    ? "localhost:${var.registry_port}"
    : "${data.aws_caller_identity.current[0].account_id}.dkr.ecr.${var.aws_region}.amazonaws.com"
  )
}

output "image_repositories" {
  description = "Names of the image repositories the registry holds for the pipeline."
  value       = var.image_repositories
}
