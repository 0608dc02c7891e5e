"""vline: keep one main branch building and testing against several vLLM release lines."""

__version__ = "0.1.0"
