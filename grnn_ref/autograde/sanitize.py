"""RestoreCells: nbgrader's OverwriteCells, restoring deleted cells in every case.

nbgrader 0.9.6's `add_missing_grade_cells` puts a deleted grade cell after the source cell just
before it and fails with a KeyError when that cell is gone too (a submission that lost most of its
cells), which aborts the student's autograde. Here each missing cell goes after the nearest earlier
source cell that is present (or at the top), and missing locked read-only cells (the instructor's
imports and setup, which test cells need) are restored as well. Test cells then run and score what
the submission actually contains (0 where the student's code is gone).
"""
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import OverwriteCells


def _cell_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


class RestoreCells(OverwriteCells):
    """OverwriteCells whose add_missing_cells restores grade cells and locked cells robustly."""

    def add_missing_grade_cells(self, nb, resources):
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        grade_cells = {c.name: c for c in source_nb.grade_cells}
        solution_ids = {c.name for c in source_nb.solution_cells}
        present = {_cell_id(c) for c in nb.cells if _cell_id(c)}
        insert_at = 0  # after the last present (or restored) source cell seen so far
        for source_cell in source_nb.source_cells:
            name = source_cell.name
            if name in present:
                insert_at = 1 + max(i for i, c in enumerate(nb.cells) if _cell_id(c) == name)
                continue
            if name in grade_cells:
                self.log.warning("Missing grade cell %s encountered, adding to notebook", name)
                cell = self.missing_cell_transform(source_cell, grade_cells[name].max_score,
                                                   is_solution=name in solution_ids)
            elif source_cell.locked and name not in solution_ids:
                self.log.warning("Missing read-only cell %s encountered, adding to notebook", name)
                cell = self._locked_cell(source_cell)
            else:
                continue
            nb.cells.insert(insert_at, cell)
            present.add(name)
            insert_at += 1
        return nb, resources

    @staticmethod
    def _locked_cell(source_cell):
        cell = {
            "cell_type": source_cell.cell_type,
            "metadata": {"deletable": False, "editable": False, "nbgrader": {
                "grade": False, "solution": False, "task": False, "locked": True,
                "grade_id": source_cell.name, "checksum": source_cell.checksum,
                "schema_version": 3}},
            "source": source_cell.source,
        }
        if cell["cell_type"] == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        return NotebookNode(cell)

