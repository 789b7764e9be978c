module finnhub-pipeline/apps/local-cluster/go/pause

go 1.26.6
