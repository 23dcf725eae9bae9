"""The summarise layer: everything read back from what runs recorded (HELM-style: running and
summarising are separate). ``runview`` reads a run once; ``summary``, ``leaderboards``, ``paper``,
``checks``, ``comparison`` and ``stats`` make the tables and verdicts; ``formatting``, ``latex`` and
``tablefiles`` render them; ``results`` writes a run's own summary files; ``report*`` and
``figure*`` make the HTML report and the paper's figures."""
