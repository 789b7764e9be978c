terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.38"
    }
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # No backend block: minikube keeps the default local state, terraform.tfstate in this folder,
  # which Pulumi.minikube.yaml reads. eks adds an S3 backend through backend_override.tf
  # (copied from backend_override.tf.example), read by Pulumi.eks.yaml.
}
