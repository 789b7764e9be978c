target       = "eks"
kube_context = "finnhub-eks"
aws_region   = "eu-central-1"
