variable "target" {
  type        = string
  description = "Where the pipeline runs: \"minikube\" (in-cluster registry) or \"eks\" (ECR repositories)."
  default     = "minikube"

  validation {
    condition     = contains(["minikube", "eks"], var.target)
    error_message = "target must be \"minikube\" or \"eks\"."
  }
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace the whole pipeline is deployed into."
  default     = "finnhub"
}

variable "kube_context" {
  type        = string
  description = "kubeconfig context of the target cluster (minikube, or the alias given to `aws eks update-kubeconfig`)."
  default     = "minikube"
}

variable "kubeconfig_path" {
  type        = string
  description = "Path of the kubeconfig file holding kube_context."
  default     = "~/.kube/config"
}

variable "aws_region" {
  type        = string
  description = "AWS region of the ECR repositories (eks only)."
  default     = "eu-central-1"
}

variable "image_repositories" {
  type        = list(string)
  description = "Image repositories to create; Pulumi pushes <registry_url>/<name>:<tag>."
  default     = ["finnhub-producer", "finnhub-processor", "finnhub-kafka", "finnhub-cassandra"]
}

variable "registry_image" {
  type        = string
  description = "Pinned image of the in-cluster registry (minikube only)."
  default     = "registry:2.8.3"
}

variable "registry_port" {
  type        = number
  description = "Port of the in-cluster registry; the node pulls and the host pushes through localhost:<port>."
  default     = 5000
}
