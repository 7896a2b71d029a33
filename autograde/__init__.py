"""The course's grading pipeline around nbgrader: ``python -m autograde release | check | grade``."""
