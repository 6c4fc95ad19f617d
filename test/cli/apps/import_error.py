# Stops at once on an error of its own: a module it needs is missing.
import no_such_module_refscope_test  # noqa: F401
