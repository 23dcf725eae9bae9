"""The run layer: a ``RunConfig`` in, a run folder out. ``planning`` and ``runner`` decide and do the
work, ``worker`` computes (the same in-process, in a Slurm shard or on Ray: ``executors``),
``runfolder``/``records``/``runmeta`` are the one reader and writer of a run's files, ``merging``
combines shards, ``naming`` names default folders, ``presets`` names the paper's protocols."""
