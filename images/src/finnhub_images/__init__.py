"""The pipeline's images: what each holds (catalog), its build context (contexts), the build."""
