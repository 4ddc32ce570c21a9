"""The ``pytest11`` entry point named ``webinfer``: it loads :mod:`webinfer.tools.pytest_plugin` under the plugin
module's own name.

Were the entry point the plugin module itself, pytest would register that module as ``webinfer``, and
``-p webinfer.tools.pytest_plugin`` (or ``pytest_plugins = ["webinfer.tools.pytest_plugin"]`` in a conftest)
would then fail with "Plugin already registered under a different name". Loading it through
``pytest_plugins`` registers it once, under its module name, whichever way comes first; ``-p no:webinfer``
still turns it off.
"""

pytest_plugins = ["webinfer.tools.pytest_plugin"]
