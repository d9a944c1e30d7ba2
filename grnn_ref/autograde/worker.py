"""Per-worker set-up of the parallel grader (grnn_ref.autograde.parallel): what a grading process
does once instead of once per gradebook session or per student.

nbgrader opens a new Gradebook about ten times while grading one student (creating the submission,
reading the source cells, saving the grades, ...), and every Gradebook() creates a database engine,
inspects the tables and runs `CREATE TABLE IF NOT EXISTS` for each of them. `share_gradebook_engine`
makes the Gradebooks of this process share one engine per database URL: the first one is created as
nbgrader does it (tables checked and created), the later ones only open a session on it. Each
Gradebook still opens and closes its own session (and nbgrader's close() still disposes of the
engine's pooled connections), so nothing about transactions or the gradebook lock changes.

`skip_pre_convert_hook` removes the course's pre-convert hook from a worker's configuration when
the parent has run it once for the whole class (it records a fresh clone's assignment in the
gradebook; run per student it only re-reads the same rows).

The kernel side is untouched: every notebook still gets its own freshly started sandboxed kernel.
"""


def share_gradebook_engine():
    """Make nbgrader.api.Gradebook reuse one SQLAlchemy engine per db_url in this process.

    Call before anything else wraps Gradebook.__init__ (the gradebook lock of parallel.py wraps
    this one). Returns the dict of shared engines (db_url -> engine)."""
    from nbgrader import api
    from sqlalchemy.orm import scoped_session, sessionmaker

    engines = {}
    create = api.Gradebook.__init__

    def __init__(self, db_url, course_id="default_course", authenticator=None):
        engine = engines.get(db_url)
        if engine is None:
            create(self, db_url, course_id, authenticator)   # tables checked and created
            engines[db_url] = self.engine
            return
        self.engine = engine
        self.db = scoped_session(sessionmaker(autoflush=True, bind=engine, future=True))
        self.check_course(course_id=course_id)
        self.course_id = course_id
        self.authenticator = authenticator

    __init__.__doc__ = create.__doc__
    api.Gradebook.__init__ = __init__
    return engines


def skip_pre_convert_hook(config):
    """Remove the Autograde/BaseConverter pre-convert hook from `config` (already run once by the
    parent for the whole class). Returns the names of the sections changed."""
    changed = []
    for section in ("Autograde", "BaseConverter"):
        if section in config and config[section].get("pre_convert_hook") is not None:
            config[section].pre_convert_hook = None
            changed.append(section)
    return changed
