"""Feedback pages that work offline: the course's nbgrader feedback template and its MathJax.

nbgrader's feedback template loads MathJax 2 from a CDN (nbconvert's default `mathjax()` macro), so
a student reading the page offline sees raw LaTeX. The course's template `grnn_feedback`
(grnn_ref/grading/templates/grnn_feedback) is nbgrader's `feedback` (its conf.json names it as
the base template, and it has no index.html.j2 of its own) with one file more, mathjax.html.j2,
found before nbconvert's: the macro nbgrader's page header calls loads MathJax 3 from `mathjax/`
next to the page, and adds styles that wrap long lines. `copy_mathjax` puts that MathJax
(the pinned django-static-mathjax package, the same distribution the book's site serves, see
book/_ext/offline_site.py) into each student's feedback folder; nbgrader_config.py runs it as
GenerateFeedback's post-convert hook, so `nbgrader generate_feedback` needs nothing else and
the folder a student fetches (nbgrader fetch_feedback) is complete.
"""
import filecmp
import os
import shutil

TEMPLATE = "grnn_feedback"
TEMPLATES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
#: the MathJax parts a feedback page can load: the TeX/CHTML component, the TeX extensions it
#: autoloads (e.g. \boldsymbol) and the CHTML web fonts (about 2 MB in all)
MATHJAX_PARTS = ("tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2")
MATHJAX_FOLDER = "mathjax"


def nbgrader_templates_dir():
    import nbgrader
    return os.path.join(os.path.dirname(os.path.abspath(nbgrader.__file__)), "server_extensions",
                        "formgrader", "templates")


def mathjax_source_dir():
    """The es5 folder of the installed MathJax 3 distribution (django-static-mathjax)."""
    try:
        import mathjax
    except ImportError as e:
        raise RuntimeError("feedback pages need MathJax from the package django-static-mathjax "
                           "(requirements.txt): it is not installed") from e
    es5 = os.path.join(os.path.dirname(os.path.abspath(mathjax.__file__)), "static", "mathjax",
                       "es5")
    if not os.path.isfile(os.path.join(es5, "tex-chtml.js")):
        raise RuntimeError(f"no tex-chtml.js in {es5}: reinstall django-static-mathjax")
    return es5


def copy_mathjax(folder):
    """Copy MATHJAX_PARTS into folder/mathjax (files already there and equal are kept)."""
    src_root = mathjax_source_dir()
    for part in MATHJAX_PARTS:
        src = os.path.join(src_root, part)
        files = [src] if os.path.isfile(src) else [
            os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs]
        for f in files:
            dest = os.path.join(folder, MATHJAX_FOLDER, os.path.relpath(f, src_root))
            if os.path.exists(dest) and filecmp.cmp(f, dest, shallow=True):
                continue
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(f, dest)


def _feedback_exporter_class():
    from nbconvert.exporters import HTMLExporter

    class FeedbackHTMLExporter(HTMLExporter):
        """HTMLExporter of feedback pages only (formgrader's pages keep nbgrader's own template):
        configured as a class of its own, so its settings do not reach other HTML exporters."""

    return FeedbackHTMLExporter


FeedbackHTMLExporter = _feedback_exporter_class()


def configure(c):
    """Select the template in an nbgrader config object `c` (nbgrader_config.py), for
    generate_feedback's exporter only (formgrader renders with HTMLExporter and its own
    `formgrade` template, which a plain c.HTMLExporter setting would replace)."""
    c.GenerateFeedback.exporter_class = FeedbackHTMLExporter
    c.FeedbackHTMLExporter.template_name = TEMPLATE
    c.FeedbackHTMLExporter.extra_template_basedirs = [TEMPLATES_DIR, nbgrader_templates_dir()]


def mathjax_hook(root):
    """A GenerateFeedback post_convert_hook(assignment, student, notebooks): MathJax next to the
    student's feedback pages."""

    def hook(assignment, student, notebooks, **_):
        # nbgrader passes the command line's ids ("*" for all students) and the notebooks just
        # converted: autograded/<student>/<assignment>/<name>.ipynb, whose feedback folder is
        # the same place under the feedback directory
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        cfg = PyFileConfigLoader("nbgrader_config.py", path=root).load_config()
        cd = CourseDirectory(config=cfg)
        folders = set()
        for nb in notebooks or []:
            a_dir = os.path.dirname(os.path.abspath(nb))
            folders.add(cd.format_path(cd.feedback_directory, os.path.basename(
                os.path.dirname(a_dir)), os.path.basename(a_dir)))
        for folder in sorted(folders):
            if os.path.isdir(folder):
                copy_mathjax(folder)

    return hook
