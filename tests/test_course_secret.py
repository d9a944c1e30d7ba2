"""One grading secret per course: it lives in the course root, its fingerprint is recorded in the
gradebook, and another secret is refused (grnn_ref.autograde.course_secret)."""
import os

import pytest

from grnn_ref.autograde import classroom, course_secret
from grnn_ref.autograde.parallel import load_course


def test_the_secret_defaults_to_the_course_root_whatever_the_working_directory(tmp_path,
                                                                                 monkeypatch):
    root = classroom.copy_course(str(tmp_path / "course"), [])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("GRNN_GRADING_SECRET_FILE", raising=False)
    _, config = load_course(root)
    expected = os.path.join(root, ".grnn_grading_secret")
    assert config.GradingExecute.secret_file == expected
    assert config.VerifyChecks.secret_file == expected


def test_the_first_secret_is_recorded_and_another_is_refused(tmp_path):
    url = "sqlite:///" + str(tmp_path / "gradebook.db")
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text("a" * 64 + "\n")
    second.write_text("b" * 64 + "\n")
    fp = course_secret.check_gradebook(url, "course-x", str(first))
    assert fp == course_secret.fingerprint(b"a" * 64)
    assert course_secret.recorded_fingerprint(url, "course-x") == fp
    assert course_secret.check_gradebook(url, "course-x", str(first)) == fp   # again: fine
    with pytest.raises(course_secret.SecretMismatch) as e:
        course_secret.check_gradebook(url, "course-x", str(second))
    msg = str(e.value.code)
    assert fp in msg and course_secret.fingerprint(b"b" * 64) in msg
    assert "GRNN_GRADING_SECRET_FILE" in msg
    # another course in the same database has its own secret
    assert course_secret.check_gradebook(url, "course-y", str(second)) != fp
    # the fingerprint does not contain the secret
    assert "a" * 16 not in fp


def test_a_worker_needs_the_secret_file_it_is_told_of(tmp_path):
    with pytest.raises(FileNotFoundError, match="copy the course's secret"):
        course_secret.secret_file_fingerprint(str(tmp_path / "missing"))
    assert not (tmp_path / "missing").exists()
