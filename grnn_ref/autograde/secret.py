"""The instructor-side grading secret and the hidden-case seeds derived from it.

Hidden test cases are generated from a seed that depends on a secret kept with the course (never
in the repository, never visible inside the grading sandbox) and on the assignment and student, so
that hidden inputs cannot be precomputed from the public package and differ between students.
The grading executor (kernel side) and the verifier (grader side) both call `hidden_seed`, so plain
`nbgrader autograde` and the parallel command use the same seeds.

Where the secret lives: $GRNN_GRADING_SECRET_FILE, else the configured path, else
`<course root>/.grnn_grading_secret` (the course root is the directory nbgrader runs in). It is
created on first use (32 random bytes, mode 0600); several machines grading one course must share it.
"""
import hashlib
import hmac
import os
import secrets
import time

DEFAULT_NAME = ".grnn_grading_secret"


def secret_path(configured=""):
    """Path of the secret file: env var, then configured value, then <cwd>/.grnn_grading_secret."""
    return (os.environ.get("GRNN_GRADING_SECRET_FILE") or configured
            or os.path.join(os.getcwd(), DEFAULT_NAME))


def load_or_create(path):
    """The secret's bytes; creates the file atomically (O_EXCL) if it does not exist yet."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    for _ in range(50):
        with open(path) as f:
            value = f.read().strip()
        if len(value) >= 32:
            break
        time.sleep(0.05)  # a concurrent creator may still be writing
    if len(value) < 32:
        # a concurrent creator may still be writing; an empty or short secret is never used
        raise ValueError(f"grading secret {path!r} is shorter than 32 characters: "
                         "delete it to have a new one made")
    return value.encode()


def hidden_seed(assignment, student, configured_path=""):
    """Seed (int, 0 <= seed < 2**63) of the hidden cases for one student's assignment."""
    key = load_or_create(secret_path(configured_path))
    digest = hmac.new(key, f"{assignment}\0{student}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1
