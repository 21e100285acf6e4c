"""Shared test constants (imported by tests; conftest.py only holds fixtures and hooks)."""

# A tiny, fast schedule for end-to-end tests on 2 CPU cores.
TINY = {"iterations": 3, "kernel_warmup": 5, "encoder": "fallback", "device": "cpu", "ssim_phase": 1}
