"""The paper's user study (RealFill, Table 3) from recorded runs: ``make_study`` builds a study
folder, ``serve_study`` (or ``create_app`` for any ASGI server) collects votes in SQLite, and
``analyze_study`` computes the vote shares with their intervals.

A layer above the summaries: it reads runs through ``sources.py`` only. Heavy packages (FastAPI,
uvicorn, matplotlib, statsmodels, krippendorff) are imported when used.
"""
from __future__ import annotations

from .analyze import Analysis, analyze_study
from .config import PAPER_QUESTIONS, Question, StudyConfig, StudyDesign
from .make import make_study
from .plan import participant_plan
from .render import write_analysis
from .server import create_app, serve_study

__all__ = ["PAPER_QUESTIONS", "Analysis", "Question", "StudyConfig", "StudyDesign", "analyze_study", "create_app",
           "make_study", "participant_plan", "serve_study", "write_analysis"]
