"""Build submissions from the course's source notebooks (for tests and benchmarks, grader side).

    solution_submission(source_nb, release_nb) -> a release notebook with the solution code filled
        in, as a student who solved everything would submit it (no hidden tests, no markers);
    plant(nb, mutation) -> a copy with one solution cell edited (grnn_ref.grading.mutations).
"""
import copy

_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _text(source):
    """A cell source as one string (nbformat JSON may store it as a list of lines)."""
    return "".join(source) if isinstance(source, list) else source


def _strip_markers(source):
    source = _text(source)
    return "\n".join(line for line in source.split("\n") if line.strip() not in _MARKERS)


def solution_submission(source_nb, release_nb):
    """The release notebook with every solution cell replaced by the source's solution."""
    solutions = {_grade_id(c): c["source"] for c in source_nb["cells"]
                 if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    nb = copy.deepcopy(release_nb)
    for cell in nb["cells"]:
        gid = _grade_id(cell)
        if gid in solutions:
            cell["source"] = _strip_markers(solutions[gid])
    return nb


def plant(nb, mutation):
    """A copy of `nb` with mutation.old replaced by mutation.new in the cell mutation.cell.

    ValueError if the cell does not hold `old` exactly once (the mutation table is stale).
    """
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if _grade_id(cell) == mutation.cell:
            src = _text(cell["source"])
            if src.count(mutation.old) != 1:
                raise ValueError(f"plant: {mutation.old!r} occurs {src.count(mutation.old)} times "
                                 f"in cell {mutation.cell!r}, expected once")
            cell["source"] = src.replace(mutation.old, mutation.new)
            return nb
    raise ValueError(f"plant: no cell with grade_id {mutation.cell!r}")
