"""The seed-selection layer (RealFill Sec. 4.3, Table 2): samples ranked by the correspondences the
references have with their filled region. Beside data, methods and metrics; imports the core only."""
from .correspondences import MATCHERS, CorrespondenceScorer, SelectionSettings, keep_count

__all__ = ["MATCHERS", "CorrespondenceScorer", "SelectionSettings", "keep_count"]
