"""The core layer: what every other layer stands on, and knows no benchmark, method or metric by
name. Scenes (``scene``), reading images and masks (``imageio``), writing files atomically
(``files``), typed settings (``settings``), registries with "did you mean" (``registry``), errors
(``errors``), names from data made safe (``paths``), strict JSON and bounded YAML (``jsonio``,
``yamlio``), typed fields of parsed files (``fields``), bounded zip archives (``unzip``), downloads
(``download``), the one device rule (``devices``), provenance, caches, compositing."""
