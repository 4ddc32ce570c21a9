"""The hybrid backend: partition a graph into WebNN and WebGPU islands and run them in order."""

from .partition import Crossing, Island, Partition, partition, place_nodes, schedule
from .session import HybridSession

__all__ = ["Crossing", "HybridSession", "Island", "Partition", "partition", "place_nodes", "schedule"]
