"""Adapters to the world outside vline: cargo, git, docker, S3, GitHub Actions."""
