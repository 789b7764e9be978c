provider "kubernetes" {
  config_path    = pathexpand(var.kubeconfig_path)
  config_context = var.kube_context
}

provider "aws" {
  region = var.aws_region
  # On minikube nothing AWS is created; skip the credential check so no AWS account is needed.
  skip_credentials_validation = var.target != "eks"
  skip_requesting_account_id  = var.target != "eks"
  skip_metadata_api_check     = var.target != "eks"
}

locals {
  labels = {
    "app.kubernetes.io/part-of"    = "finnhub-pipeline"
    "app.kubernetes.io/managed-by" = "terraform"
  }
  registry_labels = merge(local.labels, {
    "app.kubernetes.io/name"      = "registry"
    "app.kubernetes.io/instance"  = "finnhub"
    "app.kubernetes.io/component" = "image-registry"
  })
  is_minikube = var.target == "minikube"
}

resource "kubernetes_namespace_v1" "pipeline" {
  metadata {
    name = var.namespace
    labels = merge(local.labels, {
      # Every pipeline pod meets the baseline Pod Security Standard; restricted is warned about.
      "pod-security.kubernetes.io/enforce" = "baseline"
      "pod-security.kubernetes.io/warn"    = "restricted"
    })
  }
}

# minikube: a registry inside the cluster, in its own namespace so the pipeline's default-deny
# network policy does not apply to it. It listens on the node's localhost:<registry_port>
# (hostPort), which the container runtime treats as a trusted insecure registry; the host
# pushes through `kubectl port-forward` to the same port.
resource "kubernetes_namespace_v1" "registry" {
  count = local.is_minikube ? 1 : 0
  metadata {
    name   = "${var.namespace}-registry"
    labels = local.labels
  }
}

resource "kubernetes_deployment_v1" "registry" {
  count = local.is_minikube ? 1 : 0
  metadata {
    name      = "registry"
    namespace = kubernetes_namespace_v1.registry[0].metadata[0].name
    labels    = local.registry_labels
  }
  spec {
    replicas = 1
    selector {
      match_labels = { "app.kubernetes.io/name" = "registry" }
    }
    template {
      metadata {
        labels = local.registry_labels
      }
      spec {
        security_context {
          run_as_non_root = true
          run_as_user     = 1000
          fs_group        = 1000
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }
        container {
          name  = "registry"
          image = var.registry_image
          port {
            container_port = 5000
            host_port      = var.registry_port
          }
          resources {
            requests = { cpu = "50m", memory = "64Mi" }
            limits   = { cpu = "500m", memory = "256Mi" }
          }
          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            capabilities {
              drop = ["ALL"]
            }
          }
          readiness_probe {
            http_get {
              path = "/v2/"
              port = 5000
            }
          }
          liveness_probe {
            http_get {
              path = "/v2/"
              port = 5000
            }
            initial_delay_seconds = 10
          }
          volume_mount {
            name       = "data"
            mount_path = "/var/lib/registry"
          }
        }
        volume {
          name = "data"
          empty_dir {
            size_limit = "10Gi"
          }
        }
      }
    }
  }
}

resource "kubernetes_service_v1" "registry" {
  count = local.is_minikube ? 1 : 0
  metadata {
    name      = "registry"
    namespace = kubernetes_namespace_v1.registry[0].metadata[0].name
    labels    = local.registry_labels
  }
  spec {
    selector = { "app.kubernetes.io/name" = "registry" }
    port {
      port        = var.registry_port
      target_port = 5000
    }
  }
}

# eks: one ECR repository per app image, immutable tags, scanned on push.
data "aws_caller_identity" "current" {
  count = local.is_minikube ? 0 : 1
}

resource "aws_ecr_repository" "app" {
  for_each             = local.is_minikube ? toset([]) : toset(var.image_repositories)
  name                 = each.value
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

resource "aws_ecr_lifecycle_policy" "app" {
  for_each   = aws_ecr_repository.app
  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last 20 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 20 }
      action       = { type = "expire" }
    }]
  })
}
