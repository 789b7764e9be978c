"""The contracts between the pipeline's parts, each written once (docs/architecture.md).

No dependencies: every app, the images and the Pulumi program can import it without pulling in
another app. Each module is named for the contract it holds.
"""
