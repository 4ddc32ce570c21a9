"""webinfer: run neural-network graphs from Python in the browser (WebNN, WebGPU) and on the host."""

__version__ = "0.1.0"
