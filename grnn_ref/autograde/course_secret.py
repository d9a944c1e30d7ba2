"""One grading secret per course: its fingerprint is recorded in the gradebook and checked.

Hidden test cases are seeded from the course's grading secret (`grnn_ref.autograde.secret`). Two
machines grading one course with two different secrets would give two students with the same
code different hidden cases, and a regrade on the other machine a different score. Nothing in the
secret file itself can tell, so the gradebook (the one thing every grader of a course shares)
records a fingerprint of the secret the first time the course is graded, and every later grading
run checks its own secret against it before grading anyone:

- `fingerprint(key)`: a one-way hash of the secret (16 hex digits); it reveals nothing usable
  about the secret, so it may be printed, logged and sent to grading workers;
- `check_gradebook(db_url, course_id, secret_file)`: records the fingerprint in the table
  `grnn_secret_fingerprint` of the gradebook's database if the course has none yet, else raises
  `SecretMismatch` naming both fingerprints and what to do;
- `checked_hook(secret_file, hook)`: an nbgrader pre-convert hook that runs the check, then `hook`
  (nbgrader_config.py wraps the course's `ensure_in_gradebook` hook with it, so plain
  `nbgrader autograde` and `python -m grnn_ref.autograde` both refuse a second secret).
"""
import hashlib
import os
import sys

from grnn_ref.autograde import secret as grading_secret

TABLE = "grnn_secret_fingerprint"


class SecretMismatch(SystemExit):
    """The grading secret here is not the one the course's gradebook was graded with.

    A SystemExit: nbgrader swallows an Exception raised by a pre-convert hook (it logs it and
    grades on), but lets this one end the command, with the message on the terminal.
    """


def fingerprint(key):
    """16 hex digits identifying the secret `key` (bytes); the secret cannot be recovered."""
    return hashlib.sha256(b"grnn-grading-secret-fingerprint\0" + key).hexdigest()[:16]


def secret_file_fingerprint(path, create=False):
    """Fingerprint of the secret in `path`; with create=False a missing file is an error."""
    if not create and not os.path.exists(path):
        raise FileNotFoundError(
            f"grading secret {path!r} does not exist: copy the course's secret file there "
            "(or point $GRNN_GRADING_SECRET_FILE at it); a new one would change every student's "
            "hidden cases")
    return fingerprint(grading_secret.load_or_create(path))


def _table(metadata):
    from sqlalchemy import Column, DateTime, String, Table
    return Table(TABLE, metadata,
                 Column("course_id", String(128), primary_key=True),
                 Column("fingerprint", String(64), nullable=False),
                 Column("recorded", DateTime, nullable=False))


def recorded_fingerprint(db_url, course_id):
    """The fingerprint recorded for course_id in the gradebook's database, or None."""
    from sqlalchemy import MetaData, create_engine, inspect, select
    engine = create_engine(db_url)
    try:
        if not inspect(engine).has_table(TABLE):
            return None
        table = _table(MetaData())
        with engine.connect() as conn:
            return conn.execute(select(table.c.fingerprint)
                                .where(table.c.course_id == course_id)).scalar()
    finally:
        engine.dispose()


def check_gradebook(db_url, course_id, secret_file):
    """Record this secret's fingerprint for the course, or raise SecretMismatch if another is.

    Returns the fingerprint. Safe when several machines start at once: the first insert wins
    (primary key), the others read it back and compare.
    """
    import datetime

    from nbgrader.api import Gradebook
    from sqlalchemy import MetaData, create_engine, select
    from sqlalchemy.exc import IntegrityError

    mine = secret_file_fingerprint(secret_file, create=True)
    # nbgrader's own tables first: nbgrader stamps a database's schema version only when it finds
    # the database empty
    Gradebook(db_url, course_id).close()
    engine = create_engine(db_url)
    try:
        metadata = MetaData()
        table = _table(metadata)
        metadata.create_all(engine, checkfirst=True)
        query = select(table.c.fingerprint).where(table.c.course_id == course_id)
        with engine.connect() as conn:
            theirs = conn.execute(query).scalar()
        if theirs is None:
            try:
                with engine.begin() as conn:
                    conn.execute(table.insert().values(
                        course_id=course_id, fingerprint=mine,
                        recorded=datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)))
                theirs = mine
            except IntegrityError:  # another machine recorded first
                with engine.connect() as conn:
                    theirs = conn.execute(query).scalar()
    finally:
        engine.dispose()
    if theirs != mine:
        msg = (
            f"the grading secret {secret_file} (fingerprint {mine}) is not the secret course "
            f"{course_id!r} was graded with (fingerprint {theirs}, recorded in the gradebook "
            f"{_safe_url(db_url)}): grading with it would give students different hidden cases. "
            "Copy the course's secret file to this machine (mode 0600) or point "
            "$GRNN_GRADING_SECRET_FILE at it; to start the course over with a new secret, delete "
            f"its row from the table {TABLE}.")
        raise SecretMismatch(msg)
    return mine


def _safe_url(db_url):
    """The URL without its password."""
    try:
        from sqlalchemy.engine import make_url
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for a message
        return "(the configured db_url)"


def checked_hook(root, secret_file, hook=None):
    """A pre_convert_hook(assignment, student, notebooks) that checks the secret, then runs hook.

    root: the course root, whose nbgrader_config.py names the gradebook (db_url, course_id).
    """

    def pre_convert(assignment=None, student=None, notebooks=None, **kw):
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        cfg = PyFileConfigLoader("nbgrader_config.py", path=root).load_config()
        cd = CourseDirectory(config=cfg)
        try:
            check_gradebook(cd.db_url, cd.course_id, grading_secret.secret_path(secret_file))
        except SecretMismatch as e:
            # the parallel command reads tagged lines from a student's log into its summary
            print(f"grnn: {e.code}", file=sys.stderr, flush=True)
            raise
        if hook is not None:
            hook(assignment=assignment, student=student, notebooks=notebooks, **kw)

    return pre_convert
