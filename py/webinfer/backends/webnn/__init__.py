"""The WebNN backend: check nodes against ``opSupportLimits()``, plan MLGraphBuilder calls, run with MLTensors.

``limits`` (what a context accepts), ``lowering`` (one table: op -> supports + lower), ``planner``
(graph -> plan, decompositions), ``plan`` (the recorded calls), ``context`` (which context we got),
``session`` (the Session) and ``runtime.mjs`` (the JS that builds and runs the graph).
"""

from .limits import Limits
from .lowering import LOWERINGS, Lowering, NodeDescs, supports
from .planner import Support, check_graph, plan_graph
from .session import WebNNContext, WebNNSession

__all__ = ["LOWERINGS", "Limits", "Lowering", "NodeDescs", "Support", "WebNNContext", "WebNNSession",
           "check_graph", "plan_graph", "supports"]
