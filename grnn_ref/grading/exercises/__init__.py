"""One module per exercise with checks of its own (beyond the cells' contract in grading.cells).

Kernel side: numpy at import time, the reference only inside grader-side methods. Every module in
this folder is imported (and so registers its checks) when grnn_ref.grading is imported, and the
grading sandbox stages the whole folder: a new exercise adds its module here and nothing else in
the grading package changes.
"""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
