# nbgrader configuration for the CNN course workbook.
# nbgrader and its formgrader look for this file in the folder they start in, so it lives at the
# project root and the project root is the course root. `python -m autograde` uses the same settings.
import os
import sys

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file
_here = os.path.dirname(os.path.abspath(__file__))
try:
    from autograde.settings import GradingLimits
except ImportError:         # nbgrader started outside the course folder, without the course installed
    sys.path.insert(0, _here)
    from autograde.settings import GradingLimits

c.CourseDirectory.root = _here
c.CourseDirectory.course_id = "cnn-course"
c.CourseDirectory.source_directory = "solutions"       # the source of truth, with solutions and hidden tests
c.CourseDirectory.release_directory = "notebooks"      # the generated student versions, committed
c.CourseDirectory.submitted_directory = "submitted"    # <student>/<NN_slug>/<NN_slug>.ipynb
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

# Generated student notebooks must be deterministic: no outputs, no execution counts.
c.ClearOutput.enabled = True

# The grader's limits (python -m autograde grade / check): each is a trait of autograde.settings.GradingLimits,
# with its default and help text there; set one here to change it for grading, the self-check and the CLI, e.g.
# c.GradingLimits.cell_seconds = 90
# c.GradingLimits.memory_gib = 3
# nbgrader's own runs (Validate, nbgrader autograde) interrupt a runaway cell after the same time; the rest of
# the notebook still runs.
c.Execute.timeout = GradingLimits(config=c).cell_seconds
c.Execute.interrupt_on_timeout = True
# Any text on stderr (a harmless library warning) would zero a test cell in nbgrader; a failed test
# raises, which is recorded as an error output, so dropping stderr streams loses no verdict.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\s\S]*"

# The stub a learner sees in place of a solution: say what to do, not just "not implemented".
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError(\"Replace this line with your answer, then run the test cell below.\")"
}
